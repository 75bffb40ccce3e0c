"""Svix Cloud products Herald does not serve: a 404 naming the product, never a bare one.

The Functions host answers a path no function serves with a 404 and an empty body, on which the
Svix SDKs fail decoding JSON. These routes answer such calls as every Herald error is answered, a
JSON body (`{"code": "not_served", "detail": ...}`), saying what is not served and why. They are
not in the OpenAPI document: it lists what Herald serves. Ingest's paths (`/ingest/api/v1/...`)
lie outside the `/api` route prefix, where no function of the app can answer (see the README).
"""

import azure.functions as func

from blueprints._http import Call, Reply, serve
from shared.errors import NotFoundError
from shared.scopes import Scope

bp = func.Blueprint()

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]

# (function name, product, route templates): `{*rest}` also matches nothing, e.g. `/api/v1/stream`.
NOT_SERVED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("transformations", "Transformations", ("v1/app/{app_id}/endpoint/{endpoint_id}/transformation",)),
    ("integrations", "Integrations", ("v1/app/{app_id}/integration/{*rest}",)),
    (
        "stream",
        "Stream",
        (
            "v1/stream/{*rest}",
            "v1/auth/stream/{*rest}",
            "v1/auth/stream-logout",
            "v1/auth/stream-portal-access/{stream_id}",
            "v1/app/{app_id}/destination/{*rest}",
        ),
    ),
    ("pollers", "Pollers", ("v1/app/{app_id}/poller/{*rest}", "v1/app/{app_id}/polling-endpoint/{*rest}")),
    ("connectors", "Connectors", ("v1/connector/{*rest}",)),
    (
        "autoconfig",
        "Auto-configuration",
        ("v1/app/{app_id}/autoconfig/{*rest}", "v1/app/{app_id}/endpoint/{endpoint_id}/auto-config"),
    ),
)


def _register(name: str, product: str, route: str) -> None:
    detail = (
        f"{product}: a Svix Cloud product that Herald does not serve "
        "(the README's API section lists what Herald serves)."
    )

    async def refuse(_call: Call) -> Reply:
        raise NotFoundError(detail, code="not_served")

    async def http_entry(req: func.HttpRequest) -> func.HttpResponse:
        # Authenticated like any call: an unknown caller learns nothing, not even this.
        return await serve(req, refuse, Scope.READ, route=route)

    http_entry.__name__ = name
    route_decorator = bp.route(route=route, methods=METHODS, auth_level=func.AuthLevel.ANONYMOUS)
    bp.function_name(name)(route_decorator(http_entry))


for function, product, routes in NOT_SERVED:
    for index, route in enumerate(routes):
        _register(f"not_served_{function}_{index}", product, route)
