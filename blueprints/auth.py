"""App portal access: POST /api/v1/auth/app-portal-access/{app_id}, .../app/{app_id}/expire-all, /logout.

A tenant's token (herald.write) gets a portal token for one application and can expire them all;
a portal token can log itself out. What a portal token may do elsewhere is declared on each route
(`api_function(..., portal=...)`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import azure.functions as func

from blueprints._http import Call, Reply, api_function
from shared.scopes import Capability, Scope

if TYPE_CHECKING:
    from shared.models import ApplicationTokenExpireIn, AppPortalAccessIn

bp = func.Blueprint()


def _origin(url: str) -> str:
    """The scheme and host a request arrived at: the portal link's default base."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@api_function(
    bp,
    "app_portal_access",
    "v1/auth/app-portal-access/{app_id}",
    ["POST"],
    scope=Scope.WRITE,
    returns="AppPortalAccessOut",
    status=200,
)
async def app_portal_access(call: Call, body: AppPortalAccessIn) -> Reply:
    base_url = call.services.settings.public_base_url or _origin(call.req.url)

    async def issue(seed: str | None) -> Reply:
        access = await call.services.portal_access.issue(
            call.tenant_id, call.route("app_id"), body, base_url=base_url, seed=seed
        )
        return 200, access

    # The answer holds a credential: a retried request replays it sealed, as secrets are.
    return await call.once(issue, secret=True)


@api_function(
    bp,
    "expire_all_portal_tokens",
    "v1/auth/app/{app_id}/expire-all",
    ["POST"],
    scope=Scope.WRITE,
    status=204,
)
async def expire_all_portal_tokens(call: Call, body: ApplicationTokenExpireIn) -> Reply:
    await call.services.portal_access.expire_all(call.tenant_id, call.route("app_id"), body)
    return 204, None


@api_function(
    bp, "portal_logout", "v1/auth/logout", ["POST"], scope=Scope.READ, portal=Capability.VIEW_BASE, status=204
)
async def portal_logout(call: Call) -> Reply:
    assert call.principal is not None
    await call.services.portal_access.log_out(call.principal)
    return 204, None
