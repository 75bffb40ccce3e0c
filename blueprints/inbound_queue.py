"""The inbound queue trigger: other systems publish messages by enqueuing them (see README)."""

import logging

import azure.functions as func

bp = func.Blueprint()
# Fixed, so producers and the infrastructure agree on it without configuration.
INBOUND_QUEUE = "herald-inbound"
log = logging.getLogger("herald.inbound")


@bp.function_name("inbound_queue")
@bp.queue_trigger(arg_name="msg", queue_name=INBOUND_QUEUE, connection="AzureWebJobsStorage")
async def inbound_queue(msg: func.QueueMessage) -> None:
    from shared.services.registry import get_services  # heavy SDKs load on first use

    services = await get_services()
    # Raising (only for transient failures) lets the host retry, then poison-queue the message.
    outcome = await services.inbound.accept(
        msg.get_body().decode("utf-8", "replace"), queue_message_id=msg.id
    )
    if outcome.accepted:
        log.info("inbound message accepted as %s", outcome.msg_id)
