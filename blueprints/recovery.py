"""Endpoint recovery: POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/recover, and its workflow.

The route records a background task and starts one workflow for it. The workflow resends one
batch of failed messages per execution and continues as new until none are left, so its history
stays short however many messages an endpoint missed. A batch held back by the endpoint's throttle
or the tenant's outbound share says how long to wait, and the workflow waits on a durable timer.
At most one recovery of an endpoint runs at a time: a second answers 409 `recovery_in_progress`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.durable_functions as df

from blueprints._http import Call, Reply, api_function
from blueprints._tasks import register_workflow, start_once
from shared.scopes import Capability, Scope

if TYPE_CHECKING:
    from shared.models import RecoverIn

bp = df.Blueprint()

# Named with a version: see README, "Deploying safely".
WORKFLOW = "endpoint_recover_v1"
BATCH_ACTIVITY = "endpoint_recover_batch"
FAILED_ACTIVITY = "endpoint_recover_failed"


@api_function(
    bp,
    "recover_endpoint",
    "v1/app/{app_id}/endpoint/{endpoint_id}/recover",
    ["POST"],
    scope=Scope.WRITE,
    portal=Capability.CREATE_ATTEMPTS,
    returns="RecoverOut",
    status=202,
    durable_client=True,
)
async def recover_endpoint(call: Call, body: RecoverIn) -> Reply:
    from shared.services import recovery
    from shared.services.background_tasks import recover_out

    app_id = await call.app_id()

    async def start(seed: str | None) -> Reply:
        task = await call.services.recovery.start(
            call.tenant_id, app_id, call.route("endpoint_id"), body, seed=seed
        )
        await start_once(call.client, WORKFLOW, recovery.instance_id(task), recovery.workflow_input(task))
        return 202, recover_out(task)

    return await call.once(start)


register_workflow(bp, WORKFLOW, BATCH_ACTIVITY, FAILED_ACTIVITY, lambda services: services.recovery)
