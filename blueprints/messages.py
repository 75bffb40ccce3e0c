"""Messages: /api/v1/app/{app_id}/msg[/{msg_id}[/content]]."""

from typing import TYPE_CHECKING

import azure.durable_functions as df

from blueprints._http import LIST_QUERY, MESSAGE_FILTERS, Call, Reply, api_function
from blueprints.delivery import dispatch_in_background
from shared.lazy import lazy_module
from shared.scopes import Scope

if TYPE_CHECKING:
    from shared import models
    from shared.services import messages as views
else:
    models = lazy_module("shared.models")
    views = lazy_module("shared.services.messages")

bp = df.Blueprint()


@api_function(
    bp,
    "list_messages",
    "v1/app/{app_id}/msg",
    ["GET"],
    scope=Scope.READ,
    returns="ListResponse[MessageOut]",
    query=(
        *LIST_QUERY,
        "with_content",
        *MESSAGE_FILTERS,
    ),
)
async def list_messages(call: Call) -> Reply:
    params = call.list_params(default_order="descending")
    filters = {
        "channel": call.query("channel"),
        "tag": call.query("tag"),
        "event_types": call.query("event_types"),
        "before": call.time("before"),
        "after": call.time("after"),
    }
    page = await call.services.messages.list_page(
        call.tenant_id,
        call.route("app_id"),
        params,
        with_content=call.flag("with_content", default=True),
        filters=filters,
    )
    return 200, page


@api_function(
    bp,
    "create_message",
    "v1/app/{app_id}/msg",
    ["POST"],
    scope=Scope.WRITE,
    body="MessageIn",
    returns="MessageOut",
    status=202,
    query=("with_content",),
    durable_client=True,
)
async def create_message(call: Call) -> Reply:
    data = call.body(models.MessageIn)
    # The idempotency key is kept with the message itself: accepting costs one write.
    accepted = await call.services.messages.accept(
        call.tenant_id,
        call.route("app_id"),
        data,
        idempotency_key=call.req.headers.get("idempotency-key") or None,
        fingerprint=call.fingerprint(),
        with_content=call.flag("with_content", default=True),
    )
    if accepted.created:
        # Stored: the answer does not wait for the receivers.
        dispatch_in_background(call.client, accepted.message, accepted.endpoints)
    return 202, views.to_out(accepted.message, with_content=accepted.with_content)


@api_function(
    bp,
    "get_message",
    "v1/app/{app_id}/msg/{msg_id}",
    ["GET"],
    scope=Scope.READ,
    returns="MessageOut",
    query=("with_content",),
)
async def get_message(call: Call) -> Reply:
    doc = await call.services.messages.get(call.tenant_id, call.route("app_id"), call.route("msg_id"))
    return 200, views.to_out(doc, with_content=call.flag("with_content", default=True))


@api_function(
    bp, "expunge_message_content", "v1/app/{app_id}/msg/{msg_id}/content", ["DELETE"], scope=Scope.WRITE
)
async def expunge_message_content(call: Call) -> Reply:
    await call.services.messages.expunge_content(call.tenant_id, call.route("app_id"), call.route("msg_id"))
    return 204, None
