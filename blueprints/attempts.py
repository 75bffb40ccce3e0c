"""Message attempts and delivery statuses: /api/v1/app/{app_id}/attempt/..., .../msg/{msg_id}/endpoint."""

from typing import TYPE_CHECKING

import azure.functions as func

from blueprints._http import LIST_QUERY, MESSAGE_FILTERS, Call, Reply, api_function
from shared.lazy import lazy_module
from shared.scopes import Capability, Scope

if TYPE_CHECKING:
    from shared import models
else:
    models = lazy_module("shared.models")

bp = func.Blueprint()


def _filters(call: Call) -> dict[str, object]:
    return {
        "status": call.query("status"),
        "channel": call.query("channel"),
        "tag": call.query("tag"),
        "event_types": call.query("event_types"),
        "endpoint_id": call.query("endpoint_id"),
        "before": call.time("before"),
        "after": call.time("after"),
        "with_msg": call.flag("with_msg", default=False),
        # Svix's defaults for callers other than its SDKs (which send both, false and true).
        "with_content": call.flag("with_content", default=True),
        "expanded_statuses": call.flag("expanded_statuses", default=False),
        "status_code_class": call.query("status_code_class"),
    }


@api_function(
    bp,
    "list_attempts_by_endpoint",
    "v1/app/{app_id}/attempt/endpoint/{endpoint_id}",
    ["GET"],
    scope=Scope.READ,
    portal=Capability.VIEW_BASE,
    returns="ListResponse[MessageAttemptOut]",
    query=(
        *LIST_QUERY,
        "status",
        "status_code_class",
        *MESSAGE_FILTERS,
        "with_content",
        "with_msg",
        "expanded_statuses",
    ),
)
async def list_attempts_by_endpoint(call: Call) -> Reply:
    page = await call.services.attempts.list_by_endpoint(
        call.tenant_id,
        call.route("app_id"),
        call.route("endpoint_id"),
        call.list_params(default_order="descending"),
        _filters(call),
    )
    return 200, page


@api_function(
    bp,
    "list_attempts_by_message",
    "v1/app/{app_id}/attempt/msg/{msg_id}",
    ["GET"],
    scope=Scope.READ,
    portal=Capability.VIEW_BASE,
    returns="ListResponse[MessageAttemptOut]",
    query=(
        *LIST_QUERY,
        "status",
        "status_code_class",
        "endpoint_id",
        *MESSAGE_FILTERS,
        "with_content",
        "expanded_statuses",
    ),
)
async def list_attempts_by_message(call: Call) -> Reply:
    page = await call.services.attempts.list_by_msg(
        call.tenant_id,
        call.route("app_id"),
        call.route("msg_id"),
        call.list_params(default_order="descending"),
        _filters(call),
    )
    return 200, page


@api_function(
    bp,
    "get_attempt",
    "v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}",
    ["GET"],
    scope=Scope.READ,
    portal=Capability.VIEW_BASE,
    returns="MessageAttemptOut",
    query=("expanded_statuses",),
)
async def get_attempt(call: Call) -> Reply:
    # Accepted and checked; an attempt itself is never canceled (only a pair is), so it changes nothing.
    call.flag("expanded_statuses", default=False)
    attempt = await call.services.attempts.get(
        call.tenant_id, call.route("app_id"), call.route("msg_id"), call.route("attempt_id")
    )
    return 200, attempt


@api_function(
    bp,
    "expunge_attempt_content",
    "v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/content",
    ["DELETE"],
    scope=Scope.WRITE,
)
async def expunge_attempt_content(call: Call) -> Reply:
    await call.services.attempts.expunge_content(
        call.tenant_id, call.route("app_id"), call.route("msg_id"), call.route("attempt_id")
    )
    return 204, None


@api_function(
    bp,
    "list_message_destinations",
    "v1/app/{app_id}/msg/{msg_id}/endpoint",
    ["GET"],
    scope=Scope.READ,
    portal=Capability.VIEW_BASE,
    returns="ListResponse[MessageEndpointOut]",
    query=LIST_QUERY,
)
async def list_message_destinations(call: Call) -> Reply:
    page = await call.services.attempts.list_destinations(
        call.tenant_id,
        call.route("app_id"),
        call.route("msg_id"),
        call.list_params(default_order="ascending"),
    )
    return 200, page


@api_function(
    bp,
    "list_endpoint_messages",
    "v1/app/{app_id}/endpoint/{endpoint_id}/msg",
    ["GET"],
    scope=Scope.READ,
    portal=Capability.VIEW_BASE,
    returns="ListResponse[EndpointMessageOut]",
    query=(
        *LIST_QUERY,
        "status",
        *MESSAGE_FILTERS,
        "with_content",
        "expanded_statuses",
    ),
)
async def list_endpoint_messages(call: Call) -> Reply:
    page = await call.services.attempts.list_messages_of_endpoint(
        call.tenant_id,
        call.route("app_id"),
        call.route("endpoint_id"),
        call.list_params(default_order="descending"),
        _filters(call),
    )
    return 200, page


@api_function(
    bp,
    "resend_message",
    "v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend",
    ["POST"],
    scope=Scope.WRITE,
    portal=Capability.CREATE_ATTEMPTS,
    returns="EmptyResponse",
    status=202,
)
async def resend_message(call: Call) -> Reply:
    async def resend(_seed: str | None) -> Reply:
        await call.services.resend.resend(
            call.tenant_id, call.route("app_id"), call.route("msg_id"), call.route("endpoint_id")
        )
        return 202, models.EmptyResponse()

    # A retried request (same idempotency key) gets the first answer, not a second request.
    return await call.once(resend)
