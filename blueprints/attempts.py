"""Message attempts and delivery statuses: /api/v1/app/{app_id}/attempt/..., .../msg/{msg_id}/endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

from blueprints._http import Call, Reply, api_function
from shared.scopes import Capability, Scope

if TYPE_CHECKING:
    from shared.queries import (
        AscendingListQuery,
        AttemptQuery,
        AttemptsByEndpointQuery,
        AttemptsByMessageQuery,
        EndpointMessageListQuery,
    )

bp = func.Blueprint()


@api_function(
    bp,
    "list_attempts_by_endpoint",
    "v1/app/{app_id}/attempt/endpoint/{endpoint_id}",
    ["GET"],
    scope=Scope.READ,
    portal=Capability.VIEW_BASE,
    returns="ListResponse[MessageAttemptOut]",
)
async def list_attempts_by_endpoint(call: Call, query: AttemptsByEndpointQuery) -> Reply:
    page = await call.services.attempts.list_by_endpoint(
        call.tenant_id, call.route("app_id"), call.route("endpoint_id"), query.list_params(), query.filters()
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
)
async def list_attempts_by_message(call: Call, query: AttemptsByMessageQuery) -> Reply:
    page = await call.services.attempts.list_by_msg(
        call.tenant_id, call.route("app_id"), call.route("msg_id"), query.list_params(), query.filters()
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
)
async def get_attempt(call: Call, query: AttemptQuery) -> Reply:
    # `expanded_statuses` is accepted and checked; an attempt itself is never canceled (only a pair
    # is), so it changes nothing here.
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
)
async def list_message_destinations(call: Call, query: AscendingListQuery) -> Reply:
    page = await call.services.attempts.list_destinations(
        call.tenant_id, call.route("app_id"), call.route("msg_id"), query.list_params()
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
)
async def list_endpoint_messages(call: Call, query: EndpointMessageListQuery) -> Reply:
    page = await call.services.attempts.list_messages_of_endpoint(
        call.tenant_id, call.route("app_id"), call.route("endpoint_id"), query.list_params(), query.filters()
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
        return 202, {}  # EmptyResponse, as written on the wire

    # A retried request (same idempotency key) gets the first answer, not a second request.
    return await call.once(resend)
