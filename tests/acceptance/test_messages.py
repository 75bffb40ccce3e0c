"""Messages through the svix SDK."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from svix.api import (
    ApplicationIn,
    EndpointIn,
    MessageCreateOptions,
    MessageGetOptions,
    MessageIn,
    MessageListOptions,
    Svix,
)
from svix.exceptions import HttpError, HTTPValidationError


def test_create_and_get_with_and_without_content(svix: Svix, app_id: str) -> None:
    created = svix.message.create(
        app_id,
        MessageIn(event_type="user.created", payload={"id": 1}, channels=["eu"], tags=["t1"]),
        MessageCreateOptions(with_content=True),
    )
    assert created.id.startswith("msg_") and created.payload == {"id": 1}
    # SDK 2.x asks for no content unless told; the answer still parses.
    assert svix.message.get(app_id, created.id).payload == {}
    full = svix.message.get(app_id, created.id, MessageGetOptions(with_content=True))
    assert (full.payload, full.channels, full.tags, full.event_type) == (
        {"id": 1},
        ["eu"],
        ["t1"],
        "user.created",
    )


def test_the_same_idempotency_key_returns_the_first_message(svix: Svix, app_id: str) -> None:
    key = f"order-{uuid.uuid4()}"
    first = svix.message.create(
        app_id, MessageIn(event_type="a", payload={"n": 1}), MessageCreateOptions(idempotency_key=key)
    )
    again = svix.message.create(
        app_id, MessageIn(event_type="a", payload={"n": 1}), MessageCreateOptions(idempotency_key=key)
    )
    assert again == first
    assert len(svix.message.list(app_id).data) == 1


def test_duplicate_event_id_is_409(svix: Svix, app_id: str) -> None:
    svix.message.create(app_id, MessageIn(event_type="a", payload={}, event_id="evt-1"))
    with pytest.raises(HttpError) as caught:
        svix.message.create(app_id, MessageIn(event_type="a", payload={}, event_id="evt-1"))
    assert caught.value.status_code == 409


def test_list_newest_first_with_filters(svix: Svix, app_id: str) -> None:
    ids = [
        svix.message.create(app_id, MessageIn(event_type=t, payload={}, channels=[c])).id
        for t, c in (("a", "eu"), ("b", "us"), ("a", "us"))
    ]
    assert [m.id for m in svix.message.list(app_id).data] == list(reversed(ids))
    assert [m.id for m in svix.message.list(app_id, MessageListOptions(channel="us")).data] == [
        ids[2],
        ids[1],
    ]
    assert [m.id for m in svix.message.list(app_id, MessageListOptions(event_types=["a"])).data] == [
        ids[2],
        ids[0],
    ]
    page = svix.message.list(app_id, MessageListOptions(limit=2, with_content=True))
    assert len(page.data) == 2 and not page.done
    rest = svix.message.list(app_id, MessageListOptions(limit=2, iterator=page.iterator))
    assert [m.id for m in rest.data] == [ids[0]] and rest.done


def test_expunge_content(svix: Svix, app_id: str) -> None:
    msg = svix.message.create(app_id, MessageIn(event_type="a", payload={"secret": "x"}))
    svix.message.expunge_content(app_id, msg.id)
    assert svix.message.get(app_id, msg.id, MessageGetOptions(with_content=True)).payload == {}


def test_inline_application_is_created_on_first_message(svix: Svix) -> None:
    uid = f"new-{uuid.uuid4().hex[:8]}"
    svix.message.create(uid, MessageIn(event_type="a", payload={}, application=ApplicationIn(name="Lazy")))
    assert svix.application.get(uid).name == "Lazy"


def test_message_to_unknown_app_is_404(svix: Svix) -> None:
    with pytest.raises(HttpError) as caught:
        svix.message.create(f"nope-{uuid.uuid4().hex[:6]}", MessageIn(event_type="a", payload={}))
    assert caught.value.status_code == 404


def test_invalid_message_is_422_with_svix_validation_body(svix: Svix, app_id: str) -> None:
    with pytest.raises(HTTPValidationError) as caught:
        svix.message.create(
            app_id, MessageIn(event_type="a", payload={}, channels=[f"c{i}" for i in range(11)])
        )
    assert caught.value.status_code == 422
    assert caught.value.detail[0].loc == ["body", "channels"]


def test_payload_over_one_mebibyte_is_413(svix: Svix, app_id: str) -> None:
    with pytest.raises(HttpError) as caught:
        svix.message.create(app_id, MessageIn(event_type="a", payload={"blob": "x" * (1024 * 1024)}))
    assert caught.value.status_code == 413


def test_raw_http_errors_are_json(http: httpx.Client, app_id: str) -> None:
    malformed = http.post(
        f"/api/v1/app/{app_id}/msg", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400 and malformed.json()["code"] == "invalid_json"
    huge = http.post(f"/api/v1/app/{app_id}/msg", content=b" " * (1024 * 1024 + 64 * 1024 + 1))
    assert huge.status_code == 413 and huge.json()["code"] == "payload_too_large"
    unknown = http.get("/api/v1/nothing-here")
    assert unknown.status_code == 404 and "code" in unknown.json()
    wrong_method = http.delete("/api/v1/app")
    assert wrong_method.status_code == 405 and "code" in wrong_method.json()
    assert http.get(f"/api/v1/app/{app_id}/msg").json()["data"] == []


def test_health_needs_nothing(svix: Svix, herald_url: str) -> None:
    svix.health.get()
    assert httpx.get(f"{herald_url}/api/v1/health").json() == {"status": "ok"}


def test_messages_fan_out_only_to_matching_endpoints(svix: Svix, app_id: str) -> None:
    eu = svix.endpoint.create(app_id, EndpointIn(url="https://eu.example.com", channels=["eu"]))
    paid = svix.endpoint.create(
        app_id, EndpointIn(url="https://paid.example.com", event_types=["invoice.paid"])
    )
    msg = svix.message.create(app_id, MessageIn(event_type="invoice.paid", payload={}, channels=["us"]))
    destinations = svix.message_attempt.list_attempted_destinations(app_id, msg.id)
    assert [d.id for d in destinations.data] == [paid.id]
    assert destinations.data[0].status_text == "pending"
    assert eu.id not in [d.id for d in destinations.data]


def test_concurrent_duplicates_with_one_key_all_get_the_first_answer(svix: Svix, app_id: str) -> None:
    key = f"burst-{uuid.uuid4()}"

    def create() -> str:
        options = MessageCreateOptions(idempotency_key=key)
        return svix.message.create(app_id, MessageIn(event_type="a", payload={"n": 1}), options).id

    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = list(pool.map(lambda _: create(), range(6)))
    assert len(set(ids)) == 1
    assert [m.id for m in svix.message.list(app_id).data] == ids[:1]


def test_wrong_types_and_missing_fields_are_422(http: httpx.Client, app_id: str) -> None:
    wrong = http.post(f"/api/v1/app/{app_id}/msg", json={"eventType": 5, "payload": "text"})
    missing = http.post("/api/v1/app", json={})
    assert wrong.status_code == 422
    assert {tuple(e["loc"]) for e in wrong.json()["detail"]} == {("body", "eventType"), ("body", "payload")}
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "name"]
