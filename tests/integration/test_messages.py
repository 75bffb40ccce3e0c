"""Messages against the real Cosmos server: what one create writes, and what it never half-writes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from shared.clock import to_wire, utcnow
from shared.errors import ConflictError, NotFoundError, PayloadTooLargeError, ValidationFailedError
from shared.models import ApplicationIn, EndpointIn, MessageIn
from shared.services.registry import Services
from shared.store.base import MESSAGES
from shared.store.cosmos import CosmosStore

DAY = 24 * 3600


async def _app_with_endpoints(
    services: Services, tenant: str, *specs: dict[str, object]
) -> tuple[str, list[str]]:
    app, _ = await services.applications.create(tenant, ApplicationIn(name="Acme"))
    endpoint_ids = []
    for spec in specs:
        body = {"url": "https://hooks.example.com/in", **spec}
        endpoint = await services.endpoints.create(tenant, app["id"], EndpointIn.model_validate(body))
        endpoint_ids.append(endpoint["id"])
    return app["id"], endpoint_ids


async def _docs(store: CosmosStore, tenant: str, app_id: str, doc_type: str) -> list[dict[str, Any]]:
    return await store.query(MESSAGES, [tenant, app_id], where="c.type = @t", parameters=[("@t", doc_type)])


async def test_accepting_is_one_message_listing_the_matching_endpoints_and_nothing_per_endpoint(
    services: Services, store: CosmosStore, tenant: str
) -> None:
    app_id, (all_types, only_paid, _other_channel, _disabled) = await _app_with_endpoints(
        services,
        tenant,
        {},
        {"eventTypes": ["invoice.paid"]},
        {"channels": ["eu"]},
        {"disabled": True},
    )
    message = await services.messages.create(
        tenant, app_id, MessageIn.model_validate({"eventType": "invoice.paid", "payload": {"n": 1}})
    )
    assert message["endpointIds"] == sorted([all_types, only_paid])
    (stored,) = await _docs(store, tenant, app_id, "message")
    assert stored["id"] == message["id"] and stored["payload"] == {"n": 1}
    # Pairs are pending until their first attempt writes their status.
    assert await _docs(store, tenant, app_id, "destination") == []


async def test_a_message_keeps_the_retention_and_a_shorter_payload_retention_expires_only_its_payload(
    services: Services, store: CosmosStore, tenant: str
) -> None:
    app_id, _ = await _app_with_endpoints(services, tenant, {})
    default = await services.messages.accept(
        tenant,
        app_id,
        MessageIn.model_validate({"eventType": "a", "payload": {}, "eventId": "e1"}),
        idempotency_key="k1",
    )
    short = await services.messages.create(
        tenant,
        app_id,
        MessageIn.model_validate({"eventType": "a", "payload": {"n": 2}, "payloadRetentionHours": 2}),
    )
    days = await services.messages.create(
        tenant,
        app_id,
        MessageIn.model_validate({"eventType": "a", "payload": {"n": 7}, "payloadRetentionPeriod": 7}),
    )
    as_long = await services.messages.create(
        tenant,
        app_id,
        MessageIn.model_validate({"eventType": "a", "payload": {"n": 90}, "payloadRetentionPeriod": 90}),
    )
    stored = {doc["id"]: doc for doc in await _docs(store, tenant, app_id, "message")}
    assert {msg_id: doc["ttl"] for msg_id, doc in stored.items()} == {
        default.message["id"]: 90 * DAY,
        short["id"]: 90 * DAY,
        days["id"]: 90 * DAY,
        as_long["id"]: 90 * DAY,
    }
    # A shorter payload retention keeps the payload in a document of its own, expiring on time.
    contents = {doc["msgId"]: doc for doc in await _docs(store, tenant, app_id, "message-content")}
    assert {msg_id: (doc["ttl"], doc["payload"]) for msg_id, doc in contents.items()} == {
        short["id"]: (7200, {"n": 2}),
        days["id"]: (7 * DAY, {"n": 7}),
    }
    assert "payload" not in stored[short["id"]] and stored[as_long["id"]]["payload"] == {"n": 90}
    (event_guard,) = await _docs(store, tenant, app_id, "event-id")
    (key_guard,) = await _docs(store, tenant, app_id, "idempotency-key")
    assert (event_guard["ttl"], key_guard["ttl"]) == (DAY, 12 * 3600)


async def test_duplicate_event_id_conflicts_and_writes_nothing(
    services: Services, store: CosmosStore, tenant: str
) -> None:
    app_id, _ = await _app_with_endpoints(services, tenant, {})
    body = {"eventType": "a", "payload": {}, "eventId": "evt-42"}
    await services.messages.create(tenant, app_id, MessageIn.model_validate(body))
    with pytest.raises(ConflictError):
        await services.messages.create(tenant, app_id, MessageIn.model_validate(body))
    assert len(await _docs(store, tenant, app_id, "message")) == 1
    assert len(await _docs(store, tenant, app_id, "event-id")) == 1


async def test_event_id_can_be_reused_after_its_24_hours(
    services: Services, store: CosmosStore, tenant: str
) -> None:
    app_id, _ = await _app_with_endpoints(services, tenant)
    body = {"eventType": "a", "payload": {}, "eventId": "evt-old"}
    await services.messages.create(tenant, app_id, MessageIn.model_validate(body))
    (guard,) = await _docs(store, tenant, app_id, "event-id")
    # The local server keeps expired items, so Herald checks the guard's own expiry.
    guard["expiresAt"] = to_wire(utcnow() - timedelta(seconds=1))
    await store.replace(MESSAGES, guard, etag=guard["_etag"])
    await services.messages.create(tenant, app_id, MessageIn.model_validate(body))
    assert len(await _docs(store, tenant, app_id, "message")) == 2


async def test_a_large_fan_out_is_still_one_message(
    services: Services, store: CosmosStore, tenant: str
) -> None:
    app_id, endpoint_ids = await _app_with_endpoints(services, tenant, *([{}] * 130))
    message = await services.messages.create(
        tenant, app_id, MessageIn.model_validate({"eventType": "a", "payload": {}, "eventId": "big"})
    )
    assert message["endpointIds"] == sorted(endpoint_ids)
    assert len(await _docs(store, tenant, app_id, "message")) == 1


async def test_the_same_idempotency_key_returns_the_first_message(
    services: Services, store: CosmosStore, tenant: str
) -> None:
    app_id, _ = await _app_with_endpoints(services, tenant, {})
    data = MessageIn.model_validate({"eventType": "a", "payload": {"n": 1}})
    first = await services.messages.accept(
        tenant, app_id, data, idempotency_key="k", fingerprint="f", with_content=False
    )
    again = await services.messages.accept(tenant, app_id, data, idempotency_key="k", fingerprint="f")
    assert (first.created, again.created) == (True, False)
    assert again.message["id"] == first.message["id"] and again.with_content is False
    with pytest.raises(ConflictError):
        await services.messages.accept(tenant, app_id, data, idempotency_key="k", fingerprint="other body")
    assert len(await _docs(store, tenant, app_id, "message")) == 1


async def test_concurrent_duplicates_with_one_key_store_one_message(
    services: Services, store: CosmosStore, tenant: str
) -> None:
    app_id, _ = await _app_with_endpoints(services, tenant, {})
    data = MessageIn.model_validate({"eventType": "a", "payload": {}})
    results = await asyncio.gather(
        *(
            services.messages.accept(tenant, app_id, data, idempotency_key="burst", fingerprint="f")
            for _ in range(8)
        )
    )
    assert len({r.message["id"] for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert len(await _docs(store, tenant, app_id, "message")) == 1


async def test_bad_messages_write_nothing(services: Services, store: CosmosStore, tenant: str) -> None:
    app_id, _ = await _app_with_endpoints(services, tenant, {})
    with pytest.raises(PayloadTooLargeError):
        await services.messages.create(
            tenant,
            app_id,
            MessageIn.model_validate({"eventType": "a", "payload": {"x": "y" * (1024 * 1024)}}),
        )
    with pytest.raises(ValidationFailedError):
        await services.messages.create(
            tenant,
            app_id,
            MessageIn.model_validate(
                {"eventType": "a", "payload": {}, "deliverAt": to_wire(utcnow() + timedelta(days=3))}
            ),
        )
    with pytest.raises(NotFoundError):
        await services.messages.create(
            tenant, "app_missing", MessageIn.model_validate({"eventType": "a", "payload": {}})
        )
    assert await _docs(store, tenant, app_id, "message") == []


async def test_inline_application_is_created_with_the_path_as_uid(services: Services, tenant: str) -> None:
    data = MessageIn.model_validate(
        {"eventType": "a", "payload": {}, "application": {"name": "New customer"}}
    )
    message = await services.messages.create(tenant, "customer-77", data)
    app = await services.applications.get(tenant, "customer-77")
    assert app["name"] == "New customer" and message["appId"] == app["id"]


async def test_concurrent_creates_of_one_event_id_store_exactly_one(
    services: Services, store: CosmosStore, tenant: str
) -> None:
    app_id, _ = await _app_with_endpoints(services, tenant, {})
    data = MessageIn.model_validate({"eventType": "a", "payload": {}, "eventId": "race"})
    results = await asyncio.gather(
        *(services.messages.create(tenant, app_id, data) for _ in range(8)), return_exceptions=True
    )
    assert sum(1 for r in results if isinstance(r, dict)) == 1
    assert all(isinstance(r, dict | ConflictError) for r in results)
    assert len(await _docs(store, tenant, app_id, "message")) == 1
