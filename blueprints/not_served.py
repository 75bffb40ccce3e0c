"""Every path under /api/v1 that no route serves: a JSON answer, never the host's bare 404.

The Functions host answers a path no function serves with a 404 and an empty body, on which the
Svix SDKs fail decoding JSON. One catch-all route, `v1/{*rest}`, is the least specific template
(the host's routing prefers literal segments, so every served route wins over it), and answers:

- a path of a Svix Cloud product Herald does not serve: 404 `not_served`, naming the product;
- a served path called with another method: 405 `method_not_allowed`, with `Allow`;
- anything else: 404 `not_found`.

It is not in the OpenAPI document, which lists what Herald serves. Ingest's paths
(`/ingest/api/v1/...`) lie outside the `/api` route prefix, where no function of the app answers.
"""

import re

import azure.functions as func

from blueprints._http import ROUTES, Call, Reply, serve
from shared.errors import MethodNotAllowedError, NotFoundError
from shared.scopes import Scope

bp = func.Blueprint()

ROUTE = "v1/{*rest}"
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]

# Svix's cloud-only products, by the paths (after /api/v1/) their SDK calls use.
_ONE = "[^/]+"
NOT_SERVED: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Transformations", re.compile(rf"app/{_ONE}/endpoint/{_ONE}/transformation")),
    ("Integrations", re.compile(rf"app/{_ONE}/integration(/.*)?")),
    ("Stream", re.compile(r"stream(/.*)?|auth/stream(/.*|-logout|-portal-access/.*)")),
    ("Stream", re.compile(rf"app/{_ONE}/destination(/.*)?")),
    ("Pollers", re.compile(rf"app/{_ONE}/(poller|polling-endpoint)(/.*)?")),
    ("Connectors", re.compile(r"connector(/.*)?")),
    (
        "Auto-configuration",
        re.compile(rf"app/{_ONE}/autoconfig(/.*)?|app/{_ONE}/endpoint/{_ONE}/auto-config"),
    ),
)


def _served_methods(path: str) -> set[str]:
    """The methods of the served routes whose template matches `path` (after /api/)."""
    segments = path.strip("/").split("/")
    methods = set()
    for route in ROUTES:
        template = route.route.split("/")
        if len(template) == len(segments) and all(
            (part.startswith("{") and part.endswith("}")) or part.lower() == segment.lower()
            for part, segment in zip(template, segments, strict=True)
        ):
            methods.add(route.method)
    return methods


async def _not_served(call: Call) -> Reply:
    rest = str(call.req.route_params.get("rest") or "").strip("/")
    for product, pattern in NOT_SERVED:
        if pattern.fullmatch(rest):
            raise NotFoundError(
                f"{product}: a Svix Cloud product that Herald does not serve "
                "(the README's API section lists what Herald serves).",
                code="not_served",
            )
    allowed = sorted(_served_methods(f"v1/{rest}"))
    if allowed:
        raise MethodNotAllowedError(
            f"{call.req.method.upper()} is not allowed here; allowed: {', '.join(allowed)}", allowed=allowed
        )
    raise NotFoundError("No such route.")


@bp.function_name("not_served")
@bp.route(route=ROUTE, methods=METHODS, auth_level=func.AuthLevel.ANONYMOUS)
async def not_served(req: func.HttpRequest) -> func.HttpResponse:
    # Authenticated like any call: a caller without a token learns nothing, not even this.
    return await serve(req, _not_served, Scope.READ, route=ROUTE)
