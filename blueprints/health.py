"""Public routes: health (no dependency touched), readiness (each dependency), the OpenAPI document.

No token is needed for these, so none of them may cost Herald more when called more often:
readiness answers a verdict it keeps for a few seconds, the OpenAPI document is built once.
"""

import json
from functools import cache

import azure.functions as func

from blueprints._http import ROUTES, Call, RawReply, Reply, api_function, json_response
from shared.openapi import build_document

bp = func.Blueprint()
API_VERSION = "1.0.0"


@bp.function_name("health")
@bp.route(route="v1/health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(200, {"status": "ok"})


@api_function(bp, "health_ready", "v1/health/ready", ["GET"], scope=None)
async def health_ready(call: Call) -> Reply:
    """Cosmos, Storage and (when configured) Key Vault, each up or down; 503 when any is down."""
    # Names and up/down only: why a dependency failed is for operators' logs, not anonymous callers.
    results = await call.services.readiness.verdict()
    ready = all(results.values())
    dependencies = {name: "up" if up else "down" for name, up in results.items()}
    return (200 if ready else 503), {"status": "ok" if ready else "unavailable", "dependencies": dependencies}


@api_function(bp, "openapi_document", "v1/openapi.json", ["GET"], scope=None)
async def openapi_document(call: Call) -> Reply:
    return 200, _openapi_json()


@cache
def _openapi_json() -> RawReply:
    """The document, built and serialized on the first call: routes are all registered at import."""
    document = build_document(ROUTES, version=API_VERSION)
    return RawReply("application/json", json.dumps(document, separators=(",", ":")))
