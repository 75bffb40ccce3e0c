"""Endpoint recovery: POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/recover, and its workflow.

The route records a background task and starts one workflow for it. The workflow resends one
batch of failed messages per execution and continues as new until none are left, so its history
stays short however many messages an endpoint missed. A batch held back by the endpoint's throttle
or the tenant's outbound share says how long to wait, and the workflow waits on a durable timer.
At most one recovery of an endpoint runs at a time: a second answers 409 `recovery_in_progress`.
"""

from collections.abc import Generator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import azure.durable_functions as df

from blueprints._http import Call, Reply, api_function
from shared.durable import RecoveryJob, RecoveryProgress
from shared.lazy import lazy_module
from shared.scopes import Scope

if TYPE_CHECKING:
    from shared import models
    from shared.services import background_tasks as views
    from shared.services import recovery, registry
else:
    models = lazy_module("shared.models")
    views = lazy_module("shared.services.background_tasks")
    recovery = lazy_module("shared.services.recovery")
    registry = lazy_module("shared.services.registry")

bp = df.Blueprint()

WORKFLOW = "endpoint_recover_v1"
BATCH_ACTIVITY = "endpoint_recover_batch"
FAILED_ACTIVITY = "endpoint_recover_failed"
# A batch that fails (Cosmos busy, say) is tried again before the task is given up as failed.
_BATCH_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=5000, max_number_of_attempts=3)


@api_function(
    bp,
    "recover_endpoint",
    "v1/app/{app_id}/endpoint/{endpoint_id}/recover",
    ["POST"],
    scope=Scope.WRITE,
    body="RecoverIn",
    returns="RecoverOut",
    status=202,
    durable_client=True,
)
async def recover_endpoint(call: Call) -> Reply:
    window = call.body(models.RecoverIn)
    app_id = await call.app_id()

    async def start(seed: str | None) -> Reply:
        task = await call.services.recovery.start(
            call.tenant_id, app_id, call.route("endpoint_id"), window, seed=seed
        )
        await _start_workflow(call.client, task)
        return 202, views.recover_out(task)

    return await call.once(start)


async def _start_workflow(client: df.DurableOrchestrationClient, task: dict[str, Any]) -> None:
    instance = recovery.instance_id(task)
    existing = await client.get_status(instance)
    if existing and existing.runtime_status:
        # A retried request whose first try started it already.
        return
    await client.start_new(WORKFLOW, instance, recovery.workflow_input(task))


# Named with a version: see README, "Deploying safely".
@bp.function_name(WORKFLOW)
@bp.orchestration_trigger(context_name="context")
def endpoint_recover(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    job: dict[str, Any] = context.get_input()  # type: ignore[assignment]
    try:
        progress = yield context.call_activity_with_retry(BATCH_ACTIVITY, _BATCH_RETRY, job)
    except Exception:
        yield context.call_activity(FAILED_ACTIVITY, job)
        return "failed"
    if progress["done"]:
        return "finished"
    if progress.get("retryIn"):
        # The batch was held back (throttle, outbound share): wait here, not in an activity.
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=progress["retryIn"]))
    context.continue_as_new({**job, "cursor": progress["cursor"]})
    return "continued"


@bp.function_name(BATCH_ACTIVITY)
@bp.activity_trigger(input_name="job")
async def endpoint_recover_batch(job: RecoveryJob) -> RecoveryProgress:
    services = await registry.get_services()
    return await services.recovery.run_batch(job)


@bp.function_name(FAILED_ACTIVITY)
@bp.activity_trigger(input_name="job")
async def endpoint_recover_failed(job: RecoveryJob) -> None:
    services = await registry.get_services()
    await services.recovery.fail(job)
