"""Event types through the svix SDK."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from svix.api import EventTypeIn, EventTypeListOptions, EventTypePatch, EventTypeUpsertIn, Svix
from svix.exceptions import HttpError


def _name() -> str:
    return f"user.created.{uuid.uuid4().hex[:8]}"


def test_event_type_lifecycle(svix: Svix) -> None:
    name = _name()
    created = svix.event_type.create(EventTypeIn(name=name, description="A user signed up"))
    assert (created.name, created.deprecated, created.archived) == (name, False, False)
    assert svix.event_type.get(name).description == "A user signed up"
    updated = svix.event_type.upsert(name, EventTypeUpsertIn(description="Changed", deprecated=True))
    assert updated.deprecated and updated.description == "Changed"
    patched = svix.event_type.patch(name, EventTypePatch(group_name="users"))
    assert patched.group_name == "users" and patched.description == "Changed"


def test_delete_archives_and_lists_hide_archived(svix: Svix) -> None:
    name = _name()
    svix.event_type.create(EventTypeIn(name=name, description="d"))
    svix.event_type.delete(name)
    assert svix.event_type.get(name).archived
    visible = [et.name for et in svix.event_type.list(EventTypeListOptions(limit=250)).data]
    everything = svix.event_type.list(EventTypeListOptions(limit=250, include_archived=True)).data
    assert name not in visible and name in [et.name for et in everything]


def test_duplicate_name_conflicts_and_unknown_is_404(svix: Svix) -> None:
    name = _name()
    svix.event_type.create(EventTypeIn(name=name, description="d"))
    with pytest.raises(HttpError) as conflict:
        svix.event_type.create(EventTypeIn(name=name, description="d"))
    assert conflict.value.status_code == 409
    with pytest.raises(HttpError) as missing:
        svix.event_type.get(_name())
    assert missing.value.status_code == 404


def test_feature_flags_read_and_write_in_both_sdk_generations(svix: Svix, http: httpx.Client) -> None:
    name = _name()
    created = svix.event_type.create(
        EventTypeIn(name=name, description="d", feature_flags=["beta", "beta", "early"])
    )
    # A set, as Svix's spec says; svix 1.x SDKs read the single `featureFlag`: the first one.
    assert (created.feature_flags, created.feature_flag) == (["beta", "early"], "beta")

    # svix 1.x sends the single flag; it becomes the event type's flags.
    legacy = _name()
    answer = http.post("/api/v1/event-type", json={"name": legacy, "description": "d", "featureFlag": "beta"})
    assert answer.status_code == 201 and answer.json()["featureFlag"] == "beta"
    assert svix.event_type.get(legacy).feature_flags == ["beta"]
    put = http.put(f"/api/v1/event-type/{legacy}", json={"description": "d", "featureFlag": "later"})
    assert put.json()["featureFlags"] == ["later"]
    assert http.patch(f"/api/v1/event-type/{legacy}", json={"featureFlag": "again"}).json()[
        "featureFlags"
    ] == ["again"]
    cleared = http.patch(f"/api/v1/event-type/{legacy}", json={"featureFlag": None}).json()
    assert (cleared["featureFlags"], cleared["featureFlag"]) == (None, None)

    patched = svix.event_type.patch(name, EventTypePatch(feature_flags=["ga"]))
    assert (patched.feature_flags, patched.feature_flag, patched.description) == (["ga"], "ga", "d")
    bad: dict[str, Any]
    for bad in ({"featureFlag": "not a flag"}, {"featureFlags": []}, {"featureFlags": ["a/b"]}):
        refused = http.patch(f"/api/v1/event-type/{name}", json=bad)
        assert refused.status_code == 422, bad
    assert svix.event_type.get(name).feature_flags == ["ga"]


def test_lists_leave_schemas_out_unless_asked_as_svix_does(svix: Svix, http: httpx.Client) -> None:
    name = _name()
    schemas = {"1": {"type": "object", "properties": {"id": {"type": "string"}}}}
    svix.event_type.create(EventTypeIn(name=name, description="d", schemas=schemas))

    def listed(**query: str) -> dict[str, Any]:
        pages = http.get("/api/v1/event-type", params={"limit": "250", **query}).json()["data"]
        return next(item for item in pages if item["name"] == name)

    assert listed()["schemas"] is None
    assert listed(with_content="true")["schemas"] == schemas
    by_sdk = svix.event_type.list(EventTypeListOptions(limit=250, with_content=True)).data
    assert next(et for et in by_sdk if et.name == name).schemas == schemas
    plain = svix.event_type.list(EventTypeListOptions(limit=250)).data
    assert next(et for et in plain if et.name == name).schemas is None
    assert svix.event_type.get(name).schemas == schemas
