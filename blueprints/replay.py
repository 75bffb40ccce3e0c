"""Sending an endpoint what it asks for: POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/...

`replay-missing` and `bulk-replay` record a background task and start one workflow for it, which
sends one batch per execution and continues as new until none is left (as recovery does, see
`recovery.py`). `send-example` stores an example message for that one endpoint and dispatches it
as `POST .../msg` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.durable_functions as df

from blueprints._http import Call, Reply, api_function
from blueprints._tasks import register_workflow, start_once
from blueprints._workflows import DurableWorkflows
from shared.scopes import Capability, Scope

if TYPE_CHECKING:
    from shared.models import BulkReplayIn, EventExampleIn, ReplayIn

bp = df.Blueprint()

ONE = "v1/app/{app_id}/endpoint/{endpoint_id}"
# Named with a version: see README, "Deploying safely".
WORKFLOW = "endpoint_replay_v1"
BATCH_ACTIVITY = "endpoint_replay_batch"
FAILED_ACTIVITY = "endpoint_replay_failed"


@api_function(
    bp,
    "replay_missing",
    f"{ONE}/replay-missing",
    ["POST"],
    scope=Scope.WRITE,
    portal=Capability.CREATE_ATTEMPTS,
    returns="ReplayOut",
    status=202,
    durable_client=True,
)
async def replay_missing(call: Call, body: ReplayIn) -> Reply:
    return await _start(call, body)


@api_function(
    bp,
    "bulk_replay",
    f"{ONE}/bulk-replay",
    ["POST"],
    scope=Scope.WRITE,
    portal=Capability.CREATE_ATTEMPTS,
    returns="ReplayOut",
    status=202,
    durable_client=True,
)
async def bulk_replay(call: Call, body: BulkReplayIn) -> Reply:
    return await _start(call, body)


async def _start(call: Call, window: ReplayIn) -> Reply:
    from shared.services import replay

    app_id = await call.app_id()

    async def start(seed: str | None) -> Reply:
        task = await call.services.replay.start(
            call.tenant_id, app_id, call.route("endpoint_id"), window, seed=seed
        )
        await start_once(call.client, WORKFLOW, replay.instance_id(task), replay.workflow_input(task))
        return 202, replay.to_out(task)

    return await call.once(start)


@api_function(
    bp,
    "send_example",
    f"{ONE}/send-example",
    ["POST"],
    scope=Scope.WRITE,
    portal=Capability.CREATE_ATTEMPTS,
    returns="MessageOut",
    status=202,
    durable_client=True,
)
async def send_example(call: Call, body: EventExampleIn) -> Reply:
    from shared.services.messages import to_out

    accepted = await call.services.examples.send(
        call.tenant_id,
        call.route("app_id"),
        call.route("endpoint_id"),
        body,
        idempotency_key=call.req.headers.get("idempotency-key") or None,
        fingerprint=call.fingerprint(),
    )
    if accepted.created:
        call.services.dispatch.dispatch_in_background(
            DurableWorkflows(call.client), accepted.message, accepted.endpoints
        )
    return 202, to_out(accepted.message)


register_workflow(bp, WORKFLOW, BATCH_ACTIVITY, FAILED_ACTIVITY, lambda services: services.replay)
