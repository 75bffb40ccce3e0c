"""Event types: /api/v1/event-type[/{event_type_name}], and POST /api/v1/event-type/import/openapi."""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

from blueprints._http import Call, Reply, api_function
from shared.scopes import Capability, Scope

if TYPE_CHECKING:
    from shared.models import EventTypeImportOpenApiIn, EventTypeIn, EventTypePatch, EventTypeUpdate
    from shared.queries import DeleteEventTypeQuery, EventTypeListQuery

bp = func.Blueprint()

ONE = "v1/event-type/{event_type_name}"


@api_function(
    bp,
    "list_event_types",
    "v1/event-type",
    ["GET"],
    scope=Scope.READ,
    portal=Capability.VIEW_BASE,
    returns="ListResponse[EventTypeOut]",
)
async def list_event_types(call: Call, query: EventTypeListQuery) -> Reply:
    page = await call.services.event_types.list_page(
        call.tenant_id,
        query.list_params(),
        include_archived=query.include_archived,
        with_content=query.with_content,
    )
    return 200, page


@api_function(bp, "create_event_type", "v1/event-type", ["POST"], scope=Scope.ADMIN, returns="EventTypeOut")
async def create_event_type(call: Call, body: EventTypeIn) -> Reply:
    from shared.services.event_types import to_out

    async def create(_seed: str | None) -> Reply:
        return 201, to_out(await call.services.event_types.create(call.tenant_id, body))

    return await call.once(create)


@api_function(
    bp,
    "import_event_types_openapi",
    "v1/event-type/import/openapi",
    ["POST"],
    scope=Scope.ADMIN,
    returns="EventTypeImportOpenApiOut",
    status=200,
)
async def import_event_types_openapi(call: Call, body: EventTypeImportOpenApiIn) -> Reply:
    async def apply(_seed: str | None) -> Reply:
        return 200, await call.services.event_types.import_openapi(call.tenant_id, body)

    return await call.once(apply)


@api_function(
    bp, "get_event_type", ONE, ["GET"], scope=Scope.READ, portal=Capability.VIEW_BASE, returns="EventTypeOut"
)
async def get_event_type(call: Call) -> Reply:
    from shared.services.event_types import to_out

    return 200, to_out(await call.services.event_types.get(call.tenant_id, call.route("event_type_name")))


@api_function(bp, "update_event_type", ONE, ["PUT"], scope=Scope.ADMIN, returns="EventTypeOut")
async def update_event_type(call: Call, body: EventTypeUpdate) -> Reply:
    from shared.services.event_types import to_out

    doc, created = await call.services.event_types.update(call.tenant_id, call.route("event_type_name"), body)
    return (201 if created else 200), to_out(doc)


@api_function(bp, "patch_event_type", ONE, ["PATCH"], scope=Scope.ADMIN, returns="EventTypeOut")
async def patch_event_type(call: Call, body: EventTypePatch) -> Reply:
    from shared.services.event_types import to_out

    doc = await call.services.event_types.patch(call.tenant_id, call.route("event_type_name"), body)
    return 200, to_out(doc)


@api_function(bp, "delete_event_type", ONE, ["DELETE"], scope=Scope.ADMIN)
async def delete_event_type(call: Call, query: DeleteEventTypeQuery) -> Reply:
    await call.services.event_types.delete(
        call.tenant_id, call.route("event_type_name"), expunge=query.expunge
    )
    return 204, None
