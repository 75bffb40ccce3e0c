"""Environment: POST /api/v1/environment/export and /import (a tenant's configuration as JSON)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

from blueprints._http import Call, Reply, api_function
from shared.scopes import Scope

if TYPE_CHECKING:
    from shared.models import EnvironmentIn

bp = func.Blueprint()


@api_function(
    bp,
    "export_environment",
    "v1/environment/export",
    ["POST"],
    scope=Scope.READ,
    returns="EnvironmentOut",
    status=200,
)
async def export_environment(call: Call) -> Reply:
    return 200, await call.services.environment.export(call.tenant_id)


@api_function(bp, "import_environment", "v1/environment/import", ["POST"], scope=Scope.ADMIN, status=204)
async def import_environment(call: Call, body: EnvironmentIn) -> Reply:
    async def apply(_seed: str | None) -> Reply:
        await call.services.environment.import_(call.tenant_id, body)
        return 204, None

    return await call.once(apply)
