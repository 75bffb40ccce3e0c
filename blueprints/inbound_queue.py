"""The inbound queue trigger: other systems publish messages by enqueuing them (see README)."""

import logging

import azure.durable_functions as df
import azure.functions as func

from blueprints._workflows import DurableWorkflows
from shared import telemetry

bp = df.Blueprint()
# Fixed, so producers and the infrastructure agree on it without configuration.
INBOUND_QUEUE = "herald-inbound"
log = logging.getLogger("herald.inbound")


@bp.function_name("inbound_queue")
@bp.queue_trigger(arg_name="msg", queue_name=INBOUND_QUEUE, connection="AzureWebJobsStorage")
@bp.durable_client_input(client_name="client")
async def inbound_queue(msg: func.QueueMessage, client: df.DurableOrchestrationClient) -> None:
    from shared.services.registry import get_services  # heavy SDKs load on first use

    # The root of the message's trace, as the API request is for messages created over HTTP.
    attributes = {"messaging.system": "azure_storage_queue", "messaging.destination.name": INBOUND_QUEUE}
    with telemetry.span("herald.inbound", kind="consumer", attributes=attributes) as activity:
        services = await get_services()
        # Raising (only for transient failures) lets the host retry, then poison-queue the message.
        outcome = await services.inbound.accept(
            msg.get_body().decode("utf-8", "replace"), queue_message_id=msg.id
        )
        if outcome.message is not None:
            message = outcome.message
            activity.bind(tenant_id=message["tenantId"], app_id=message["appId"], msg_id=message["id"])
            log.info("inbound message accepted as %s", message["id"])
            # Within the invocation: the queue message is settled only after the first attempts.
            await services.dispatch.dispatch(DurableWorkflows(client), message)
