"""Event types through the svix SDK."""

from __future__ import annotations

import uuid

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
