"""Dead letters of the inbound queue: /api/v1/dead-letter (Herald's own route, not Svix's)."""

from typing import TYPE_CHECKING

import azure.functions as func

from blueprints._http import LIST_QUERY, Call, Reply, api_function
from shared.lazy import lazy_module
from shared.scopes import Scope

if TYPE_CHECKING:
    from shared import models
else:
    models = lazy_module("shared.models")

bp = func.Blueprint()


@api_function(
    bp,
    "list_dead_letters",
    "v1/dead-letter",
    ["GET"],
    scope=Scope.ADMIN,
    returns="ListResponse[DeadLetterOut]",
    query=LIST_QUERY,
)
async def list_dead_letters(call: Call) -> Reply:
    params = call.list_params(default_order="descending")
    return 200, await call.services.dead_letters.list_page(call.tenant_id, params)
