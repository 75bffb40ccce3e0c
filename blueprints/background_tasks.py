"""Background tasks: /api/v1/background-task[/{task_id}] (progress of long-running work, e.g. recovery)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

from blueprints._http import Call, Reply, api_function
from shared.scopes import Scope

if TYPE_CHECKING:
    from shared.queries import BackgroundTaskListQuery

bp = func.Blueprint()


@api_function(
    bp,
    "list_background_tasks",
    "v1/background-task",
    ["GET"],
    scope=Scope.READ,
    returns="ListResponse[BackgroundTaskOut]",
)
async def list_background_tasks(call: Call, query: BackgroundTaskListQuery) -> Reply:
    page = await call.services.background_tasks.list_page(
        call.tenant_id, query.list_params(), status=query.status, task=query.task
    )
    return 200, page


@api_function(
    bp,
    "get_background_task",
    "v1/background-task/{task_id}",
    ["GET"],
    scope=Scope.READ,
    returns="BackgroundTaskOut",
)
async def get_background_task(call: Call) -> Reply:
    return 200, await call.services.background_tasks.get(call.tenant_id, call.route("task_id"))
