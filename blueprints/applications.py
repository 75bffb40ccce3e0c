"""Applications: /api/v1/app[/{app_id}]."""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

from blueprints._http import Call, Reply, api_function
from shared.scopes import Capability, Scope

if TYPE_CHECKING:
    from shared.models import ApplicationIn, ApplicationPatch
    from shared.queries import ApplicationListQuery, CreateApplicationQuery

bp = func.Blueprint()


@api_function(
    bp, "list_applications", "v1/app", ["GET"], scope=Scope.READ, returns="ListResponse[ApplicationOut]"
)
async def list_applications(call: Call, query: ApplicationListQuery) -> Reply:
    from shared.services.applications import AppListFilters

    filters = AppListFilters(
        exclude_apps_with_no_endpoints=query.exclude_apps_with_no_endpoints,
        exclude_apps_with_disabled_endpoints=query.exclude_apps_with_disabled_endpoints,
        exclude_apps_with_svix_play_endpoints=query.exclude_apps_with_svix_play_endpoints,
    )
    return 200, await call.services.applications.list_page(call.tenant_id, query.list_params(), filters)


@api_function(bp, "create_application", "v1/app", ["POST"], scope=Scope.WRITE, returns="ApplicationOut")
async def create_application(call: Call, body: ApplicationIn, query: CreateApplicationQuery) -> Reply:
    from shared.services.applications import to_out

    async def create(seed: str | None) -> Reply:
        doc, created = await call.services.applications.create(
            call.tenant_id, body, get_if_exists=query.get_if_exists, seed=seed
        )
        return (201 if created else 200), to_out(doc)

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
    from shared.services.applications import to_out

    return 200, to_out(await call.services.applications.get(call.tenant_id, call.route("app_id")))


@api_function(
    bp, "update_application", "v1/app/{app_id}", ["PUT"], scope=Scope.WRITE, returns="ApplicationOut"
)
async def update_application(call: Call, body: ApplicationIn) -> Reply:
    from shared.services.applications import to_out

    doc, created = await call.services.applications.update(call.tenant_id, call.route("app_id"), body)
    return (201 if created else 200), to_out(doc)


@api_function(
    bp, "patch_application", "v1/app/{app_id}", ["PATCH"], scope=Scope.WRITE, returns="ApplicationOut"
)
async def patch_application(call: Call, body: ApplicationPatch) -> Reply:
    from shared.services.applications import to_out

    return 200, to_out(await call.services.applications.patch(call.tenant_id, call.route("app_id"), body))


@api_function(bp, "delete_application", "v1/app/{app_id}", ["DELETE"], scope=Scope.WRITE)
async def delete_application(call: Call) -> Reply:
    await call.services.applications.delete(call.tenant_id, call.route("app_id"))
    return 204, None
