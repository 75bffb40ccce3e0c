"""Background tasks: /api/v1/background-task[/{task_id}] (progress of long-running work, e.g. recovery).

App portal tokens may read them, as Svix's portal shows the recoveries and replays it starts: only
their application's tasks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

from blueprints._http import Call, Reply, api_function
from shared.scopes import Capability, Scope

if TYPE_CHECKING:
    from shared.queries import BackgroundTaskListQuery

bp = func.Blueprint()


@api_function(
    bp,
    "list_background_tasks",
    "v1/background-task",
    ["GET"],
    scope=Scope.READ,
    portal=Capability.VIEW_BASE,
    returns="ListResponse[BackgroundTaskOut]",
)
async def list_background_tasks(call: Call, query: BackgroundTaskListQuery) -> Reply:
    page = await call.services.background_tasks.list_page(
        call.tenant_id,
        query.list_params(),
        status=query.status,
        task=query.task,
        app_id=call.portal_app_id(),
    )
    return 200, page


@api_function(
    bp,
    "get_background_task",
    "v1/background-task/{task_id}",
    ["GET"],
    scope=Scope.READ,
    portal=Capability.VIEW_BASE,
    returns="BackgroundTaskOut",
)
async def get_background_task(call: Call) -> Reply:
    return 200, await call.services.background_tasks.get(
        call.tenant_id, call.route("task_id"), app_id=call.portal_app_id()
    )
