"""Applications through the svix SDK."""

from __future__ import annotations

import uuid

import pytest
from svix.api import ApplicationIn, ApplicationListOptions, ApplicationPatch, Svix
from svix.exceptions import HttpError
from svix.models import Ordering


def test_create_get_by_id_and_by_uid(svix: Svix) -> None:
    uid = f"cust-{uuid.uuid4().hex[:8]}"
    created = svix.application.create(ApplicationIn(name="Acme", uid=uid, metadata={"plan": "pro"}))
    assert created.id.startswith("app_") and created.uid == uid and created.metadata == {"plan": "pro"}
    assert svix.application.get(created.id) == created
    assert svix.application.get(uid).id == created.id


def test_get_or_create_returns_the_existing_application(svix: Svix) -> None:
    uid = f"cust-{uuid.uuid4().hex[:8]}"
    first = svix.application.get_or_create(ApplicationIn(name="Acme", uid=uid))
    second = svix.application.get_or_create(ApplicationIn(name="Other name", uid=uid))
    assert second.id == first.id and second.name == "Acme"


def test_a_second_create_with_the_same_uid_conflicts(svix: Svix) -> None:
    uid = f"cust-{uuid.uuid4().hex[:8]}"
    svix.application.create(ApplicationIn(name="Acme", uid=uid))
    with pytest.raises(HttpError) as caught:
        svix.application.create(ApplicationIn(name="Acme", uid=uid))
    assert caught.value.status_code == 409 and caught.value.code == "conflict"


def test_list_pages_with_the_iterator(svix: Svix) -> None:
    made = {svix.application.create(ApplicationIn(name=f"page-{i}")).id for i in range(5)}
    seen: list[str] = []
    iterator = None
    pages = 0
    while True:
        page = svix.application.list(
            ApplicationListOptions(limit=2, iterator=iterator, order=Ordering.ASCENDING)
        )
        pages += 1
        assert len(page.data) <= 2
        seen.extend(app.id for app in page.data)
        if page.done:
            break
        iterator = page.iterator
    assert made <= set(seen)
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert pages >= 3


def test_update_and_patch(svix: Svix, app_id: str) -> None:
    updated = svix.application.upsert(app_id, ApplicationIn(name="Renamed", throttle_rate=10))
    assert (updated.name, updated.throttle_rate) == ("Renamed", 10)
    patched = svix.application.patch(app_id, ApplicationPatch(metadata={"k": "v"}))
    assert (patched.name, patched.metadata) == ("Renamed", {"k": "v"})
    assert patched.updated_at >= updated.updated_at


def test_put_creates_a_missing_application_under_the_uid(svix: Svix) -> None:
    uid = f"cust-{uuid.uuid4().hex[:8]}"
    created = svix.application.upsert(uid, ApplicationIn(name="Upserted"))
    assert created.uid == uid and svix.application.get(uid).id == created.id


def test_delete_then_get_is_404(svix: Svix, app_id: str) -> None:
    svix.application.delete(app_id)
    with pytest.raises(HttpError) as caught:
        svix.application.get(app_id)
    assert caught.value.status_code == 404 and caught.value.code == "not_found"
