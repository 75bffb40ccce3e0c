"""Health: `/api/v1/health` touches no dependency (for probes); `/health/ready` checks the store."""

import azure.functions as func

from blueprints._http import Call, Reply, api_function, json_response
from shared.errors import ServiceUnavailableError

bp = func.Blueprint()


@bp.function_name("health")
@bp.route(route="v1/health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(200, {"status": "ok"})


@api_function(bp, "health_ready", "v1/health/ready", ["GET"], scope=None)
async def health_ready(call: Call) -> Reply:
    # Up or down only: which dependency failed is for operators' logs, not anonymous callers.
    try:
        await call.services.store.ping()
    except ServiceUnavailableError:
        raise ServiceUnavailableError("Not ready.") from None
    return 200, {"status": "ok"}
