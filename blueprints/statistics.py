"""Usage statistics: PUT /api/v1/stats/usage/event-types, POST /api/v1/stats/usage/app, and their workflow.

Each route records a background task and starts one workflow for it. The workflow counts one
batch of applications per execution and continues as new until none are left, so its history
stays short however many applications a tenant has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.durable_functions as df

from blueprints._http import Call, Reply, api_function
from blueprints._tasks import register_workflow, start_once
from shared.scopes import Scope

if TYPE_CHECKING:
    from shared.models import AppUsageStatsIn

bp = df.Blueprint()

# Named with a version: see README, "Deploying safely".
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
    from shared.models import AggregateEventTypesOut
    from shared.services import statistics

    task = await call.services.statistics.start_event_types(call.tenant_id)
    await start_once(call.client, WORKFLOW, statistics.instance_id(task), statistics.workflow_input(task))
    return 202, AggregateEventTypesOut.model_validate(task)


@api_function(
    bp,
    "aggregate_app_stats",
    "v1/stats/usage/app",
    ["POST"],
    scope=Scope.READ,
    returns="AppUsageStatsOut",
    status=202,
    durable_client=True,
)
async def aggregate_app_stats(call: Call, body: AppUsageStatsIn) -> Reply:
    from shared.services import statistics

    async def start(seed: str | None) -> Reply:
        task = await call.services.statistics.start_app_stats(call.tenant_id, body, seed=seed)
        await start_once(call.client, WORKFLOW, statistics.instance_id(task), statistics.workflow_input(task))
        return 202, statistics.app_stats_out(task)

    return await call.once(start)


register_workflow(bp, WORKFLOW, BATCH_ACTIVITY, FAILED_ACTIVITY, lambda services: services.statistics)
