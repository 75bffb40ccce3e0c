"""Messages: /api/v1/app/{app_id}/msg[/{msg_id}[/content]], `precheck/active`, `bulk-expunge`.

`expunge-all-contents` records a background task and starts one workflow for it, which expunges
one batch of messages per execution and continues as new until none are left (as endpoint
recovery does), so its history stays short however many messages the application has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.durable_functions as df

from blueprints._http import Call, Reply, api_function
from blueprints._tasks import register_workflow, start_once
from blueprints._workflows import DurableWorkflows
from shared.scopes import Capability, Scope

if TYPE_CHECKING:
    from shared.models import BulkExpungeContentsIn, MessageIn, MessagePrecheckIn
    from shared.queries import MessageContentQuery, MessageListQuery

bp = df.Blueprint()

# Named with a version: see README, "Deploying safely".
PURGE_WORKFLOW = "application_purge_content_v1"
PURGE_BATCH_ACTIVITY = "application_purge_content_batch"
PURGE_FAILED_ACTIVITY = "application_purge_content_failed"


@api_function(
    bp,
    "list_messages",
    "v1/app/{app_id}/msg",
    ["GET"],
    scope=Scope.READ,
    portal=Capability.VIEW_BASE,
    returns="ListResponse[MessageOut]",
)
async def list_messages(call: Call, query: MessageListQuery) -> Reply:
    page = await call.services.messages.list_page(
        call.tenant_id,
        call.route("app_id"),
        query.list_params(),
        with_content=query.with_content,
        filters=query.filters(),
    )
    return 200, page


@api_function(
    bp,
    "create_message",
    "v1/app/{app_id}/msg",
    ["POST"],
    scope=Scope.WRITE,
    returns="MessageOut",
    status=202,
    durable_client=True,
)
async def create_message(call: Call, body: MessageIn, query: MessageContentQuery) -> Reply:
    from shared.services.messages import to_out

    # The idempotency key is kept with the message itself: accepting costs one write.
    accepted = await call.services.messages.accept(
        call.tenant_id,
        call.route("app_id"),
        body,
        idempotency_key=call.req.headers.get("idempotency-key") or None,
        fingerprint=call.fingerprint(),
        with_content=query.with_content,
    )
    if accepted.created:
        # Stored: the answer does not wait for the receivers.
        call.services.dispatch.dispatch_in_background(
            DurableWorkflows(call.client), accepted.message, accepted.endpoints
        )
    return 202, to_out(accepted.message, with_content=accepted.with_content)


@api_function(
    bp,
    "get_message",
    "v1/app/{app_id}/msg/{msg_id}",
    ["GET"],
    scope=Scope.READ,
    portal=Capability.VIEW_BASE,
    returns="MessageOut",
)
async def get_message(call: Call, query: MessageContentQuery) -> Reply:
    from shared.services.messages import to_out

    doc = await call.services.messages.get(
        call.tenant_id, call.route("app_id"), call.route("msg_id"), content=query.with_content
    )
    return 200, to_out(doc, with_content=query.with_content)


@api_function(
    bp, "expunge_message_content", "v1/app/{app_id}/msg/{msg_id}/content", ["DELETE"], scope=Scope.WRITE
)
async def expunge_message_content(call: Call) -> Reply:
    await call.services.messages.expunge_content(call.tenant_id, call.route("app_id"), call.route("msg_id"))
    return 204, None


@api_function(
    bp,
    "precheck_message",
    "v1/app/{app_id}/msg/precheck/active",
    ["POST"],
    scope=Scope.READ,
    returns="MessagePrecheckOut",
    status=200,
)
async def precheck_message(call: Call, body: MessagePrecheckIn) -> Reply:
    from shared.models import MessagePrecheckOut

    active = await call.services.messages.precheck(call.tenant_id, call.route("app_id"), body)
    return 200, MessagePrecheckOut(active=active)


@api_function(
    bp,
    "bulk_expunge_message_contents",
    "v1/app/{app_id}/msg/bulk-expunge",
    ["POST"],
    scope=Scope.WRITE,
    returns="BulkExpungeContentsOut",
    status=200,
)
async def bulk_expunge_message_contents(call: Call, body: BulkExpungeContentsIn) -> Reply:
    async def expunge(_seed: str | None) -> Reply:
        return 200, await call.services.messages.bulk_expunge(call.tenant_id, call.route("app_id"), body.ids)

    return await call.once(expunge)


@api_function(
    bp,
    "expunge_all_message_contents",
    "v1/app/{app_id}/msg/expunge-all-contents",
    ["POST"],
    scope=Scope.WRITE,
    returns="ExpungeAllContentsOut",
    status=202,
    durable_client=True,
)
async def expunge_all_message_contents(call: Call) -> Reply:
    from shared.models import ExpungeAllContentsOut
    from shared.services import purge

    async def start(seed: str | None) -> Reply:
        task = await call.services.purge.start(call.tenant_id, call.route("app_id"), seed=seed)
        await start_once(call.client, PURGE_WORKFLOW, purge.instance_id(task), purge.workflow_input(task))
        return 202, ExpungeAllContentsOut.model_validate(task)

    # A retried request (same idempotency key) gets the first task, not a second purge.
    return await call.once(start)


register_workflow(
    bp, PURGE_WORKFLOW, PURGE_BATCH_ACTIVITY, PURGE_FAILED_ACTIVITY, lambda services: services.purge
)
