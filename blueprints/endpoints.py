"""Endpoints: /api/v1/app/{app_id}/endpoint[/{endpoint_id}[/secret|/headers|/stats]]."""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

from blueprints._http import Call, Reply, api_function
from shared.scopes import Capability, Scope

if TYPE_CHECKING:
    from shared.models import (
        EndpointHeadersIn,
        EndpointHeadersPatchIn,
        EndpointIn,
        EndpointPatch,
        EndpointSecretRotateIn,
        EndpointUpdate,
    )
    from shared.queries import AscendingListQuery, StatsWindowQuery

bp = func.Blueprint()

ONE = "v1/app/{app_id}/endpoint/{endpoint_id}"


@api_function(
    bp,
    "list_endpoints",
    "v1/app/{app_id}/endpoint",
    ["GET"],
    scope=Scope.READ,
    portal=Capability.VIEW_BASE,
    returns="ListResponse[EndpointOut]",
)
async def list_endpoints(call: Call, query: AscendingListQuery) -> Reply:
    return 200, await call.services.endpoints.list_page(
        call.tenant_id, await call.app_id(), query.list_params()
    )


@api_function(
    bp,
    "create_endpoint",
    "v1/app/{app_id}/endpoint",
    ["POST"],
    scope=Scope.WRITE,
    portal=Capability.MANAGE_ENDPOINT,
    returns="EndpointOut",
)
async def create_endpoint(call: Call, body: EndpointIn) -> Reply:
    from shared.services.endpoints import to_out

    app_id = await call.app_id()

    async def create(seed: str | None) -> Reply:
        return 201, to_out(await call.services.endpoints.create(call.tenant_id, app_id, body, seed=seed))

    return await call.once(create)


@api_function(
    bp, "get_endpoint", ONE, ["GET"], scope=Scope.READ, portal=Capability.VIEW_BASE, returns="EndpointOut"
)
async def get_endpoint(call: Call) -> Reply:
    from shared.services.endpoints import to_out

    doc = await call.services.endpoints.get(call.tenant_id, await call.app_id(), call.route("endpoint_id"))
    return 200, to_out(doc)


@api_function(
    bp,
    "update_endpoint",
    ONE,
    ["PUT"],
    scope=Scope.WRITE,
    portal=Capability.MANAGE_ENDPOINT,
    returns="EndpointOut",
)
async def update_endpoint(call: Call, body: EndpointUpdate) -> Reply:
    from shared.services.endpoints import to_out

    doc, created = await call.services.endpoints.update(
        call.tenant_id, await call.app_id(), call.route("endpoint_id"), body
    )
    return (201 if created else 200), to_out(doc)


@api_function(
    bp,
    "patch_endpoint",
    ONE,
    ["PATCH"],
    scope=Scope.WRITE,
    portal=Capability.MANAGE_ENDPOINT,
    returns="EndpointOut",
)
async def patch_endpoint(call: Call, body: EndpointPatch) -> Reply:
    from shared.services.endpoints import to_out

    doc = await call.services.endpoints.patch(
        call.tenant_id, await call.app_id(), call.route("endpoint_id"), body
    )
    return 200, to_out(doc)


@api_function(bp, "delete_endpoint", ONE, ["DELETE"], scope=Scope.WRITE, portal=Capability.MANAGE_ENDPOINT)
async def delete_endpoint(call: Call) -> Reply:
    await call.services.endpoints.delete(call.tenant_id, await call.app_id(), call.route("endpoint_id"))
    return 204, None


# The signing secret lets its holder forge webhooks: reading it takes what rotating it takes.
@api_function(
    bp,
    "get_endpoint_secret",
    f"{ONE}/secret",
    ["GET"],
    scope=Scope.WRITE,
    portal=Capability.VIEW_ENDPOINT_SECRET,
    returns="EndpointSecretOut",
)
async def get_endpoint_secret(call: Call) -> Reply:
    from shared.models import EndpointSecretOut

    key = await call.services.endpoints.get_secret(
        call.tenant_id, await call.app_id(), call.route("endpoint_id")
    )
    return 200, EndpointSecretOut(key=key)


@api_function(
    bp,
    "rotate_endpoint_secret",
    f"{ONE}/secret/rotate",
    ["POST"],
    scope=Scope.WRITE,
    portal=Capability.MANAGE_ENDPOINT_SECRET,
    returns="EndpointSecretOut",
    status=200,
)
async def rotate_endpoint_secret(call: Call, body: EndpointSecretRotateIn) -> Reply:
    from shared.models import EndpointSecretOut

    app_id = await call.app_id()

    async def rotate(_seed: str | None) -> Reply:
        key = await call.services.endpoints.rotate_secret(
            call.tenant_id, app_id, call.route("endpoint_id"), body.key, body.grace_period_seconds
        )
        return 200, EndpointSecretOut(key=key)

    return await call.once(rotate, secret=True)


@api_function(
    bp,
    "get_endpoint_headers",
    f"{ONE}/headers",
    ["GET"],
    scope=Scope.READ,
    portal=Capability.VIEW_BASE,
    returns="EndpointHeadersOut",
)
async def get_endpoint_headers(call: Call) -> Reply:
    # Header values are often credentials for the receiver: a read-only caller sees names only.
    headers = await call.services.endpoints.get_headers(
        call.tenant_id,
        await call.app_id(),
        call.route("endpoint_id"),
        with_values=Scope.WRITE in call.scopes,
    )
    return 200, headers


@api_function(
    bp,
    "update_endpoint_headers",
    f"{ONE}/headers",
    ["PUT"],
    scope=Scope.WRITE,
    portal=Capability.MANAGE_ENDPOINT,
    status=204,
)
async def update_endpoint_headers(call: Call, body: EndpointHeadersIn) -> Reply:
    await call.services.endpoints.set_headers(
        call.tenant_id, await call.app_id(), call.route("endpoint_id"), body.headers, merge=False
    )
    return 204, None


@api_function(
    bp,
    "patch_endpoint_headers",
    f"{ONE}/headers",
    ["PATCH"],
    scope=Scope.WRITE,
    portal=Capability.MANAGE_ENDPOINT,
    status=204,
)
async def patch_endpoint_headers(call: Call, body: EndpointHeadersPatchIn) -> Reply:
    await call.services.endpoints.set_headers(
        call.tenant_id,
        await call.app_id(),
        call.route("endpoint_id"),
        body.headers,
        merge=True,
        remove=body.delete_headers,
    )
    return 204, None


@api_function(
    bp,
    "get_endpoint_stats",
    f"{ONE}/stats",
    ["GET"],
    scope=Scope.READ,
    portal=Capability.VIEW_BASE,
    returns="EndpointStats",
)
async def get_endpoint_stats(call: Call, query: StatsWindowQuery) -> Reply:
    stats = await call.services.endpoints.stats(
        call.tenant_id, await call.app_id(), call.route("endpoint_id"), query.since, query.until
    )
    return 200, stats


@api_function(
    bp,
    "get_endpoint_attempt_stats",
    f"{ONE}/attempt-stats",
    ["GET"],
    scope=Scope.READ,
    portal=Capability.VIEW_BASE,
    returns="EndpointAttemptStats",
)
async def get_endpoint_attempt_stats(call: Call, query: StatsWindowQuery) -> Reply:
    stats = await call.services.attempt_stats.stats(
        call.tenant_id, call.route("app_id"), call.route("endpoint_id"), query.since, query.until
    )
    return 200, stats


# Herald's own (Svix has no such route): what the portal shows as an endpoint's health.
@api_function(
    bp,
    "get_endpoint_health",
    f"{ONE}/health",
    ["GET"],
    scope=Scope.READ,
    portal=Capability.VIEW_BASE,
    returns="EndpointHealthOut",
)
async def get_endpoint_health(call: Call) -> Reply:
    health = await call.services.endpoint_health.health(
        call.tenant_id, await call.app_id(), call.route("endpoint_id")
    )
    return 200, health
