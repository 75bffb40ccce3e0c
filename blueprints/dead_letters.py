"""Dead letters of the inbound queue: /api/v1/dead-letter (Herald's own route, not Svix's)."""

import azure.functions as func

from blueprints._http import LIST_QUERY, Call, Reply, api_function
from shared.models import DeadLetterOut, ListResponse
from shared.scopes import Scope

bp = func.Blueprint()


@api_function(
    bp,
    "list_dead_letters",
    "v1/dead-letter",
    ["GET"],
    scope=Scope.ADMIN,
    returns=ListResponse[DeadLetterOut],
    query=LIST_QUERY,
)
async def list_dead_letters(call: Call) -> Reply:
    params = call.list_params(default_order="descending")
    return 200, await call.services.dead_letters.list_page(call.tenant_id, params)
