"""Background tasks: /api/v1/background-task[/{task_id}] (progress of long-running work, e.g. recovery)."""

import azure.functions as func

from blueprints._http import LIST_QUERY, Call, Reply, api_function
from shared.scopes import Scope

bp = func.Blueprint()


@api_function(
    bp,
    "list_background_tasks",
    "v1/background-task",
    ["GET"],
    scope=Scope.READ,
    returns="ListResponse[BackgroundTaskOut]",
    query=(*LIST_QUERY, "status", "task"),
)
async def list_background_tasks(call: Call) -> Reply:
    page = await call.services.background_tasks.list_page(
        call.tenant_id,
        call.list_params(default_order="descending"),
        status=call.query("status"),
        task=call.query("task"),
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
