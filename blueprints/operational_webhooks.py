"""Operational-webhook endpoints: /api/v1/operational-webhook/endpoint[/{endpoint_id}[/secret|/headers]]."""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

from blueprints._http import Call, Reply, api_function
from shared.scopes import Scope

if TYPE_CHECKING:
    from shared.models import (
        OperationalWebhookEndpointHeadersIn,
        OperationalWebhookEndpointIn,
        OperationalWebhookEndpointSecretIn,
        OperationalWebhookEndpointUpsertIn,
    )
    from shared.queries import AscendingListQuery

bp = func.Blueprint()

ALL = "v1/operational-webhook/endpoint"
ONE = "v1/operational-webhook/endpoint/{endpoint_id}"


@api_function(
    bp,
    "list_operational_webhook_endpoints",
    ALL,
    ["GET"],
    scope=Scope.ADMIN,
    returns="ListResponse[OperationalWebhookEndpointOut]",
)
async def list_operational_webhook_endpoints(call: Call, query: AscendingListQuery) -> Reply:
    return 200, await call.services.operational_endpoints.list_page(call.tenant_id, query.list_params())


@api_function(
    bp,
    "create_operational_webhook_endpoint",
    ALL,
    ["POST"],
    scope=Scope.ADMIN,
    returns="OperationalWebhookEndpointOut",
)
async def create_operational_webhook_endpoint(call: Call, body: OperationalWebhookEndpointIn) -> Reply:
    from shared.services.operational import to_out

    async def create(seed: str | None) -> Reply:
        return 201, to_out(await call.services.operational_endpoints.create(call.tenant_id, body, seed=seed))

    return await call.once(create)


@api_function(
    bp,
    "get_operational_webhook_endpoint",
    ONE,
    ["GET"],
    scope=Scope.ADMIN,
    returns="OperationalWebhookEndpointOut",
)
async def get_operational_webhook_endpoint(call: Call) -> Reply:
    from shared.services.operational import to_out

    doc = await call.services.operational_endpoints.get(call.tenant_id, call.route("endpoint_id"))
    return 200, to_out(doc)


@api_function(
    bp,
    "update_operational_webhook_endpoint",
    ONE,
    ["PUT"],
    scope=Scope.ADMIN,
    returns="OperationalWebhookEndpointOut",
)
async def update_operational_webhook_endpoint(call: Call, body: OperationalWebhookEndpointUpsertIn) -> Reply:
    from shared.services.operational import to_out

    doc, created = await call.services.operational_endpoints.upsert(
        call.tenant_id, call.route("endpoint_id"), body
    )
    return (201 if created else 200), to_out(doc)


@api_function(bp, "delete_operational_webhook_endpoint", ONE, ["DELETE"], scope=Scope.ADMIN)
async def delete_operational_webhook_endpoint(call: Call) -> Reply:
    await call.services.operational_endpoints.delete(call.tenant_id, call.route("endpoint_id"))
    return 204, None


@api_function(
    bp,
    "get_operational_webhook_endpoint_secret",
    f"{ONE}/secret",
    ["GET"],
    scope=Scope.ADMIN,
    returns="OperationalWebhookEndpointSecretOut",
)
async def get_operational_webhook_endpoint_secret(call: Call) -> Reply:
    from shared.models import OperationalWebhookEndpointSecretOut

    key = await call.services.operational_endpoints.get_secret(call.tenant_id, call.route("endpoint_id"))
    return 200, OperationalWebhookEndpointSecretOut(key=key)


@api_function(
    bp,
    "rotate_operational_webhook_endpoint_secret",
    f"{ONE}/secret/rotate",
    ["POST"],
    scope=Scope.ADMIN,
    status=204,
)
async def rotate_operational_webhook_endpoint_secret(
    call: Call, body: OperationalWebhookEndpointSecretIn
) -> Reply:
    async def rotate(_seed: str | None) -> Reply:
        await call.services.operational_endpoints.rotate_secret(
            call.tenant_id, call.route("endpoint_id"), body.key, body.grace_period_seconds
        )
        return 204, None

    return await call.once(rotate)


@api_function(
    bp,
    "get_operational_webhook_endpoint_headers",
    f"{ONE}/headers",
    ["GET"],
    scope=Scope.ADMIN,
    returns="OperationalWebhookEndpointHeadersOut",
)
async def get_operational_webhook_endpoint_headers(call: Call) -> Reply:
    headers = await call.services.operational_endpoints.get_headers(call.tenant_id, call.route("endpoint_id"))
    return 200, headers


@api_function(
    bp,
    "update_operational_webhook_endpoint_headers",
    f"{ONE}/headers",
    ["PUT"],
    scope=Scope.ADMIN,
    status=204,
)
async def update_operational_webhook_endpoint_headers(
    call: Call, body: OperationalWebhookEndpointHeadersIn
) -> Reply:
    await call.services.operational_endpoints.set_headers(
        call.tenant_id, call.route("endpoint_id"), body.headers
    )
    return 204, None
