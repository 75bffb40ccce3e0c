"""Health: /api/v1/health answers without touching any dependency (for load balancers and probes)."""

import azure.functions as func

bp = func.Blueprint()


@bp.function_name("health")
@bp.route(route="v1/health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse('{"status":"ok"}', status_code=200, mimetype="application/json")
