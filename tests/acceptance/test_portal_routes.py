"""What the application portal reads beyond Svix's own portal routes, through the `svix` SDK with a
portal token: background tasks (its application's, no other's) and its configuration (the theme
the tenant's settings give, the retention its charts may span).

Cost: about 1 s (two recoveries, a dozen calls).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from svix.api import (
    ApplicationIn,
    AppPortalAccessIn,
    AppPortalCapability,
    BackgroundTaskListOptions,
    BackgroundTaskType,
    EndpointIn,
    EnvironmentIn,
    RecoverIn,
    Svix,
    SvixOptions,
)

from shared.settings import HeraldSettings
from tests.support.sdk import status_of
from tests.support.tokens import Minter


@pytest.fixture
def tenant_token(mint: Minter) -> str:
    # A tenant of the test's own: background tasks are listed per tenant.
    return mint(f"tenant-portal-routes-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def tenant(herald_url: str, tenant_token: str) -> Svix:
    return Svix(tenant_token, SvixOptions(server_url=herald_url))


def _app(tenant: Svix, name: str) -> str:
    return tenant.application.create(ApplicationIn(name=name, uid=f"{name}-{uuid.uuid4().hex[:8]}")).id


def _portal_token(tenant: Svix, app_id: str) -> str:
    access = tenant.authentication.app_portal_access(
        app_id, AppPortalAccessIn(capabilities=[AppPortalCapability.VIEW_BASE])
    )
    return access.token


def test_a_portal_token_reads_its_applications_background_tasks_and_no_others(
    tenant: Svix, herald_url: str
) -> None:
    mine, theirs = _app(tenant, "mine"), _app(tenant, "theirs")
    since = RecoverIn(since=datetime.now(UTC) - timedelta(hours=1))
    my_task = tenant.endpoint.recover(
        mine, tenant.endpoint.create(mine, EndpointIn(url="http://127.0.0.1:9/mine")).id, since
    )
    their_task = tenant.endpoint.recover(
        theirs, tenant.endpoint.create(theirs, EndpointIn(url="http://127.0.0.1:9/theirs")).id, since
    )
    portal = Svix(_portal_token(tenant, mine), SvixOptions(server_url=herald_url))

    assert [task.id for task in portal.background_task.list().data] == [my_task.id]
    recoveries = BackgroundTaskListOptions(task=BackgroundTaskType.ENDPOINT_RECOVER)
    assert [task.id for task in portal.background_task.list(recoveries).data] == [my_task.id]
    assert portal.background_task.get(my_task.id).task == BackgroundTaskType.ENDPOINT_RECOVER
    # Another application's task is, to this token, a task that does not exist.
    assert status_of(lambda: portal.background_task.get(their_task.id)) == 404
    assert status_of(lambda: portal.background_task.get("qtask_missing")) == 404
    # The tenant's own token still sees every task of the tenant.
    assert {task.id for task in tenant.background_task.list().data} == {my_task.id, their_task.id}


def test_the_portal_configuration_is_the_tenants_appearance_with_unsafe_values_left_out(
    tenant: Svix, tenant_token: str, herald_url: str
) -> None:
    mine, theirs = _app(tenant, "mine"), _app(tenant, "theirs")
    retention = HeraldSettings().retention_days  # the suite's Herald keeps the default
    unthemed = dict.fromkeys(("displayName", "logoUrl", "primaryColor", "primaryColorDark", "fontFamily"))
    with httpx.Client(base_url=f"{herald_url}/api/v1") as http:
        as_tenant = {"authorization": f"Bearer {tenant_token}"}
        assert http.get(f"/app/{mine}/portal-config", headers=as_tenant).json() == {
            "theme": unthemed,
            "retentionDays": retention,
        }
        tenant.environment.import_(
            EnvironmentIn(
                settings={
                    "displayName": "  Acme   Cloud ",
                    "customColor": "#ABCDEF",
                    "colorPaletteDark": {"primary": "#123"},
                    "customLogoUrl": "http://insecure.example/logo.png",
                    "customFontFamily": "Inter; color: red",
                }
            )
        )
        expected = {
            "theme": {
                **unthemed,
                "displayName": "Acme Cloud",
                "primaryColor": "#abcdef",
                "primaryColorDark": "#123",
            },
            "retentionDays": retention,
        }
        assert http.get(f"/app/{mine}/portal-config", headers=as_tenant).json() == expected
        as_portal = {"authorization": f"Bearer {_portal_token(tenant, mine)}"}
        assert http.get(f"/app/{mine}/portal-config", headers=as_portal).json() == expected
        assert http.get(f"/app/{theirs}/portal-config", headers=as_portal).status_code == 404
        assert http.get("/app/app_missing/portal-config", headers=as_tenant).status_code == 404
