"""Public routes: health (no dependency touched), readiness (each dependency), the OpenAPI document."""

import azure.functions as func

from blueprints._http import ROUTES, Call, Reply, api_function, json_response
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
    from shared.probes import readiness

    # Names and up/down only: why a dependency failed is for operators' logs, not anonymous callers.
    results = await readiness(call.services.store, call.services.settings)
    ready = all(results.values())
    dependencies = {name: "up" if up else "down" for name, up in results.items()}
    return (200 if ready else 503), {"status": "ok" if ready else "unavailable", "dependencies": dependencies}


@api_function(bp, "openapi_document", "v1/openapi.json", ["GET"], scope=None)
async def openapi_document(call: Call) -> Reply:
    # Built per call from the registered routes: cheap, and never stale.
    return 200, build_document(ROUTES, version=API_VERSION)
