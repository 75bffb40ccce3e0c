"""Usage statistics: PUT /api/v1/stats/usage/event-types, POST /api/v1/stats/usage/app, and their workflow.

Each route records a background task and starts one workflow for it. The workflow counts one
batch of applications per execution and continues as new until none are left, so its history
stays short however many applications a tenant has.
"""

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import azure.durable_functions as df

from blueprints._http import Call, Reply, api_function
from blueprints._tasks import run_in_batches, start_once
from shared.durable import StatsJob, StatsProgress
from shared.lazy import lazy_module
from shared.scopes import Scope

if TYPE_CHECKING:
    from shared import models
    from shared.services import registry, statistics
else:
    models = lazy_module("shared.models")
    registry = lazy_module("shared.services.registry")
    statistics = lazy_module("shared.services.statistics")

bp = df.Blueprint()

WORKFLOW = "usage_stats_v1"
BATCH_ACTIVITY = "usage_stats_batch"
FAILED_ACTIVITY = "usage_stats_failed"


@api_function(
    bp,
    "aggregate_event_types",
    "v1/stats/usage/event-types",
    ["PUT"],
    scope=Scope.READ,
    returns="AggregateEventTypesOut",
    status=202,
    durable_client=True,
)
async def aggregate_event_types(call: Call) -> Reply:
    task = await call.services.statistics.start_event_types(call.tenant_id)
    await start_once(call.client, WORKFLOW, statistics.instance_id(task), statistics.workflow_input(task))
    return 202, models.AggregateEventTypesOut.model_validate(task)


@api_function(
    bp,
    "aggregate_app_stats",
    "v1/stats/usage/app",
    ["POST"],
    scope=Scope.READ,
    body="AppUsageStatsIn",
    returns="AppUsageStatsOut",
    status=202,
    durable_client=True,
)
async def aggregate_app_stats(call: Call) -> Reply:
    data = call.body(models.AppUsageStatsIn)

    async def start(seed: str | None) -> Reply:
        task = await call.services.statistics.start_app_stats(call.tenant_id, data, seed=seed)
        await start_once(call.client, WORKFLOW, statistics.instance_id(task), statistics.workflow_input(task))
        return 202, statistics.app_stats_out(task)

    return await call.once(start)


# Named with a version: see README, "Deploying safely".
@bp.function_name(WORKFLOW)
@bp.orchestration_trigger(context_name="context")
def usage_stats(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    return (yield from run_in_batches(context, BATCH_ACTIVITY, FAILED_ACTIVITY))


@bp.function_name(BATCH_ACTIVITY)
@bp.activity_trigger(input_name="job")
async def usage_stats_batch(job: StatsJob) -> StatsProgress:
    services = await registry.get_services()
    return await services.statistics.run_batch(job)


@bp.function_name(FAILED_ACTIVITY)
@bp.activity_trigger(input_name="job")
async def usage_stats_failed(job: StatsJob) -> None:
    services = await registry.get_services()
    await services.statistics.fail(job)
