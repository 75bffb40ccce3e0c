"""The application portal's configuration: GET /api/v1/app/{app_id}/portal-config (Herald's own route).

What the portal applies before it shows anything: its theme (the tenant's appearance settings over
the deployment's) and the retention window its charts may span. Under the application, so a
portal token reaches it for its own application only, like every other route it calls.
"""

import azure.functions as func

from blueprints._http import Call, Reply, api_function
from shared.scopes import Capability, Scope

bp = func.Blueprint()


@api_function(
    bp,
    "get_portal_config",
    "v1/app/{app_id}/portal-config",
    ["GET"],
    scope=Scope.READ,
    portal=Capability.VIEW_BASE,
    returns="PortalConfigOut",
)
async def get_portal_config(call: Call) -> Reply:
    await call.app_id()  # 404 for an application the tenant does not have
    return 200, await call.services.portal_config.config(call.tenant_id)
