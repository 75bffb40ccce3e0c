"""Applications: /api/v1/app[/{app_id}]."""

from typing import TYPE_CHECKING

import azure.functions as func

from blueprints._http import LIST_QUERY, Call, Reply, api_function
from shared.lazy import lazy_module
from shared.scopes import Capability, Scope

if TYPE_CHECKING:
    from shared import models
    from shared.services import applications as views
else:
    models = lazy_module("shared.models")
    views = lazy_module("shared.services.applications")

bp = func.Blueprint()

APP_LIST_FILTERS = (
    "exclude_apps_with_no_endpoints",
    "exclude_apps_with_disabled_endpoints",
    "exclude_apps_with_svix_play_endpoints",
)


@api_function(
    bp,
    "list_applications",
    "v1/app",
    ["GET"],
    scope=Scope.READ,
    returns="ListResponse[ApplicationOut]",
    query=(*LIST_QUERY, *APP_LIST_FILTERS),
)
async def list_applications(call: Call) -> Reply:
    params = call.list_params(default_order="ascending")
    filters = views.AppListFilters(**{name: call.flag(name, default=False) for name in APP_LIST_FILTERS})
    return 200, await call.services.applications.list_page(call.tenant_id, params, filters)


@api_function(
    bp,
    "create_application",
    "v1/app",
    ["POST"],
    scope=Scope.WRITE,
    body="ApplicationIn",
    returns="ApplicationOut",
    query=("get_if_exists",),
)
async def create_application(call: Call) -> Reply:
    data = call.body(models.ApplicationIn)
    get_if_exists = call.flag("get_if_exists", default=False)

    async def create(seed: str | None) -> Reply:
        doc, created = await call.services.applications.create(
            call.tenant_id, data, get_if_exists=get_if_exists, seed=seed
        )
        return (201 if created else 200), views.to_out(doc)

    return await call.once(create)


@api_function(
    bp,
    "get_application",
    "v1/app/{app_id}",
    ["GET"],
    scope=Scope.READ,
    portal=Capability.VIEW_BASE,
    returns="ApplicationOut",
)
async def get_application(call: Call) -> Reply:
    return 200, views.to_out(await call.services.applications.get(call.tenant_id, call.route("app_id")))


@api_function(
    bp,
    "update_application",
    "v1/app/{app_id}",
    ["PUT"],
    scope=Scope.WRITE,
    body="ApplicationIn",
    returns="ApplicationOut",
)
async def update_application(call: Call) -> Reply:
    data = call.body(models.ApplicationIn)
    doc, created = await call.services.applications.update(call.tenant_id, call.route("app_id"), data)
    return (201 if created else 200), views.to_out(doc)


@api_function(
    bp,
    "patch_application",
    "v1/app/{app_id}",
    ["PATCH"],
    scope=Scope.WRITE,
    body="ApplicationPatch",
    returns="ApplicationOut",
)
async def patch_application(call: Call) -> Reply:
    data = call.body(models.ApplicationPatch)
    return 200, views.to_out(
        await call.services.applications.patch(call.tenant_id, call.route("app_id"), data)
    )


@api_function(bp, "delete_application", "v1/app/{app_id}", ["DELETE"], scope=Scope.WRITE)
async def delete_application(call: Call) -> Reply:
    await call.services.applications.delete(call.tenant_id, call.route("app_id"))
    return 204, None
