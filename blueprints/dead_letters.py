"""Dead letters of the inbound queue: /api/v1/dead-letter (Herald's own route, not Svix's)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

from blueprints._http import Call, Reply, api_function
from shared.scopes import Scope

if TYPE_CHECKING:
    from shared.queries import DescendingListQuery

bp = func.Blueprint()


@api_function(
    bp,
    "list_dead_letters",
    "v1/dead-letter",
    ["GET"],
    scope=Scope.ADMIN,
    returns="ListResponse[DeadLetterOut]",
)
async def list_dead_letters(call: Call, query: DescendingListQuery) -> Reply:
    return 200, await call.services.dead_letters.list_page(call.tenant_id, query.list_params())
