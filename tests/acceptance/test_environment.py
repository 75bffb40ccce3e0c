"""Environment export and import through the svix SDK (`environment.export` / `import_`).

A configuration moves from one tenant to another as it would between deployments; each test has
tenants of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from svix.api import EnvironmentIn, EventTypeIn, EventTypeListOptions, Svix, SvixOptions
from svix.exceptions import HttpError, HTTPValidationError

from tests.support.tokens import Minter

SCHEMAS = {"1": {"type": "object", "properties": {"id": {"type": "string"}}}}
# Svix settings that change nothing Herald does: kept and exported again.
APPEARANCE = {"displayName": "Acme", "customColor": "#ff0000", "colorPaletteDark": {"primary": "#000"}}


@pytest.fixture
def tenant_client(herald_url: str, mint: Minter) -> Callable[..., Svix]:
    """`tenant_client()`: a client of a new tenant; `tenant_client(scopes=...)` with fewer scopes."""

    def make(scopes: str = "herald.read herald.write herald.admin", tenant: str | None = None) -> Svix:
        return Svix(
            mint(tenant or f"tenant-{uuid.uuid4().hex[:12]}", scopes), SvixOptions(server_url=herald_url)
        )

    return make


def _event_types(svix: Svix) -> list[dict[str, Any]]:
    page = svix.event_type.list(EventTypeListOptions(limit=250, include_archived=True, with_content=True))
    keep = ("name", "description", "archived", "deprecated", "schemas", "group_name", "feature_flags")
    return [{key: getattr(et, key) for key in keep} for et in page.data]


def test_a_configuration_moves_between_tenants_through_export_and_import(
    tenant_client: Callable[..., Svix],
) -> None:
    source, target = tenant_client(), tenant_client()
    source.event_type.create(EventTypeIn(name="invoice.paid", description="Paid", schemas=SCHEMAS))
    source.event_type.create(
        EventTypeIn(name="user.created", description="New", group_name="users", feature_flags=["beta"])
    )
    source.event_type.create(EventTypeIn(name="old.event", description="Old", deprecated=True))
    source.event_type.delete("old.event")
    source.environment.import_(EnvironmentIn(settings=APPEARANCE))

    exported = source.environment.export()
    assert (exported.version, exported.connectors, exported.settings) == (1, [], APPEARANCE)
    assert [et.name for et in exported.event_types] == ["invoice.paid", "old.event", "user.created"]
    assert exported.event_types[0].schemas == SCHEMAS

    target.event_type.create(EventTypeIn(name="invoice.paid", description="stale"))
    target.event_type.create(EventTypeIn(name="target.only", description="mine"))
    target.environment.import_(
        EnvironmentIn(
            event_types=[
                EventTypeIn.model_validate(
                    et.model_dump(exclude={"created_at", "updated_at", "feature_flag"})
                )
                for et in exported.event_types
            ],
            settings=exported.settings,
        )
    )
    moved = [et for et in _event_types(target) if et["name"] != "target.only"]
    assert moved == _event_types(source)
    assert "target.only" in [et["name"] for et in _event_types(target)], "an import never deletes"
    assert target.environment.export().settings == APPEARANCE

    # Settings merge key by key.
    target.environment.import_(EnvironmentIn(settings={"customColor": "#00ff00"}))
    assert target.environment.export().settings == {**APPEARANCE, "customColor": "#00ff00"}


def test_settings_about_delivery_must_say_what_this_deployment_does(
    tenant_client: Callable[..., Svix],
) -> None:
    svix = tenant_client()
    # As Herald behaves here (local settings: http allowed, Svix's retry schedule): accepted, not kept.
    svix.environment.import_(
        EnvironmentIn(
            settings={
                "retryPolicy": [5, 300, 1800, 7200, 18000, 36000, 36000],
                "enforceHttps": False,
                "disableEndpointOnFailure": True,
                "enableChannels": True,
                "readOnly": None,
            }
        )
    )
    assert svix.environment.export().settings == {}

    with pytest.raises(HTTPValidationError) as refused:
        svix.environment.import_(
            EnvironmentIn(
                event_types=[EventTypeIn(name="never.written", description="d")],
                settings={"retryPolicy": [1, 2], "whitelabelHeaders": False, "displayName": "Acme"},
            )
        )
    assert [error.loc for error in refused.value.detail] == [
        ["body", "settings", "retryPolicy"],
        ["body", "settings", "whitelabelHeaders"],
    ]
    assert "HERALD_RETRY_SCHEDULE" in refused.value.detail[0].msg
    assert _event_types(svix) == [] and svix.environment.export().settings == {}, "nothing was written"


def test_connectors_are_refused_and_import_needs_admin(tenant_client: Callable[..., Svix]) -> None:
    svix = tenant_client()
    connector = {"name": "c", "transformation": "function handler(w) { return w }"}
    with pytest.raises(HTTPValidationError) as refused:
        svix.environment.import_(EnvironmentIn.model_validate({"connectors": [connector]}))
    assert refused.value.detail[0].loc == ["body", "connectors"]

    tenant = f"tenant-{uuid.uuid4().hex[:12]}"
    reader = tenant_client("herald.read", tenant)
    assert reader.environment.export().event_types == []
    with pytest.raises(HttpError) as forbidden:
        tenant_client("herald.read herald.write", tenant).environment.import_(
            EnvironmentIn(settings={"a": 1})
        )
    assert forbidden.value.status_code == 403
