"""Event types: /api/v1/event-type[/{event_type_name}], and POST /api/v1/event-type/import/openapi."""

from typing import TYPE_CHECKING

import azure.functions as func

from blueprints._http import LIST_QUERY, Call, Reply, api_function
from shared.lazy import lazy_module
from shared.scopes import Capability, Scope

if TYPE_CHECKING:
    from shared import models
    from shared.services import event_types as views
else:
    models = lazy_module("shared.models")
    views = lazy_module("shared.services.event_types")

bp = func.Blueprint()


@api_function(
    bp,
    "list_event_types",
    "v1/event-type",
    ["GET"],
    scope=Scope.READ,
    portal=Capability.VIEW_BASE,
    returns="ListResponse[EventTypeOut]",
    query=(
        *LIST_QUERY,
        "include_archived",
        "with_content",
    ),
)
async def list_event_types(call: Call) -> Reply:
    params = call.list_params(default_order="ascending")
    page = await call.services.event_types.list_page(
        call.tenant_id,
        params,
        include_archived=call.flag("include_archived", default=False),
        # Svix's default: without schemas (the SDKs always say which they want).
        with_content=call.flag("with_content", default=False),
    )
    return 200, page


@api_function(
    bp,
    "create_event_type",
    "v1/event-type",
    ["POST"],
    scope=Scope.ADMIN,
    body="EventTypeIn",
    returns="EventTypeOut",
)
async def create_event_type(call: Call) -> Reply:
    data = call.body(models.EventTypeIn)

    async def create(_seed: str | None) -> Reply:
        return 201, views.to_out(await call.services.event_types.create(call.tenant_id, data))

    return await call.once(create)


@api_function(
    bp,
    "import_event_types_openapi",
    "v1/event-type/import/openapi",
    ["POST"],
    scope=Scope.ADMIN,
    body="EventTypeImportOpenApiIn",
    returns="EventTypeImportOpenApiOut",
    status=200,
)
async def import_event_types_openapi(call: Call) -> Reply:
    data = call.body(models.EventTypeImportOpenApiIn)

    async def apply(_seed: str | None) -> Reply:
        return 200, await call.services.event_types.import_openapi(call.tenant_id, data)

    return await call.once(apply)


@api_function(
    bp,
    "get_event_type",
    "v1/event-type/{event_type_name}",
    ["GET"],
    scope=Scope.READ,
    portal=Capability.VIEW_BASE,
    returns="EventTypeOut",
)
async def get_event_type(call: Call) -> Reply:
    return 200, views.to_out(
        await call.services.event_types.get(call.tenant_id, call.route("event_type_name"))
    )


@api_function(
    bp,
    "update_event_type",
    "v1/event-type/{event_type_name}",
    ["PUT"],
    scope=Scope.ADMIN,
    body="EventTypeUpdate",
    returns="EventTypeOut",
)
async def update_event_type(call: Call) -> Reply:
    data = call.body(models.EventTypeUpdate)
    doc, created = await call.services.event_types.update(call.tenant_id, call.route("event_type_name"), data)
    return (201 if created else 200), views.to_out(doc)


@api_function(
    bp,
    "patch_event_type",
    "v1/event-type/{event_type_name}",
    ["PATCH"],
    scope=Scope.ADMIN,
    body="EventTypePatch",
    returns="EventTypeOut",
)
async def patch_event_type(call: Call) -> Reply:
    data = call.body(models.EventTypePatch)
    doc = await call.services.event_types.patch(call.tenant_id, call.route("event_type_name"), data)
    return 200, views.to_out(doc)


@api_function(
    bp,
    "delete_event_type",
    "v1/event-type/{event_type_name}",
    ["DELETE"],
    scope=Scope.ADMIN,
    query=("expunge",),
)
async def delete_event_type(call: Call) -> Reply:
    await call.services.event_types.delete(
        call.tenant_id, call.route("event_type_name"), expunge=call.flag("expunge", default=False)
    )
    return 204, None
