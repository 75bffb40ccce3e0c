"""Messages against the real Cosmos server: what one create writes, and what it never half-writes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from shared.clock import to_wire, utcnow
from shared.errors import ConflictError, NotFoundError, PayloadTooLargeError, ValidationFailedError
from shared.models import ApplicationIn, EndpointIn, MessageIn, MessageStatus
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


async def test_create_stores_the_message_and_one_pending_pair_per_matching_endpoint(
    services: Services, store: CosmosStore, tenant: str
) -> None:
    app_id, (all_types, only_paid, other_channel, disabled) = await _app_with_endpoints(
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
    pairs = await _docs(store, tenant, app_id, "destination")
    assert sorted(p["endpointId"] for p in pairs) == sorted([all_types, only_paid])
    assert all(p["status"] == int(MessageStatus.PENDING) and p["msgId"] == message["id"] for p in pairs)
    assert other_channel not in message["endpointIds"] and disabled not in message["endpointIds"]


async def test_every_document_of_a_message_expires_with_it(
    services: Services, store: CosmosStore, tenant: str
) -> None:
    app_id, _ = await _app_with_endpoints(services, tenant, {})
    default = await services.messages.create(
        tenant, app_id, MessageIn.model_validate({"eventType": "a", "payload": {}, "eventId": "e1"})
    )
    short = await services.messages.create(
        tenant,
        app_id,
        MessageIn.model_validate({"eventType": "a", "payload": {}, "payloadRetentionHours": 2}),
    )
    days = await services.messages.create(
        tenant,
        app_id,
        MessageIn.model_validate({"eventType": "a", "payload": {}, "payloadRetentionPeriod": 7}),
    )
    assert default["ttl"] == 90 * DAY and short["ttl"] == 7200 and days["ttl"] == 7 * DAY
    stored = {doc["id"]: doc for doc in await _docs(store, tenant, app_id, "message")}
    assert stored[default["id"]]["ttl"] == 90 * DAY
    pairs = {doc["msgId"]: doc["ttl"] for doc in await _docs(store, tenant, app_id, "destination")}
    assert pairs == {default["id"]: 90 * DAY, short["id"]: 7200, days["id"]: 7 * DAY}
    (guard,) = await _docs(store, tenant, app_id, "event-id")
    assert guard["ttl"] == DAY


async def test_duplicate_event_id_conflicts_and_writes_nothing(
    services: Services, store: CosmosStore, tenant: str
) -> None:
    app_id, _ = await _app_with_endpoints(services, tenant, {})
    body = {"eventType": "a", "payload": {}, "eventId": "evt-42"}
    await services.messages.create(tenant, app_id, MessageIn.model_validate(body))
    with pytest.raises(ConflictError):
        await services.messages.create(tenant, app_id, MessageIn.model_validate(body))
    assert len(await _docs(store, tenant, app_id, "message")) == 1
    assert len(await _docs(store, tenant, app_id, "destination")) == 1


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


async def test_fan_out_beyond_one_transactional_batch(
    services: Services, store: CosmosStore, tenant: str
) -> None:
    app_id, endpoint_ids = await _app_with_endpoints(services, tenant, *([{}] * 130))
    message = await services.messages.create(
        tenant, app_id, MessageIn.model_validate({"eventType": "a", "payload": {}, "eventId": "big"})
    )
    pairs = await _docs(store, tenant, app_id, "destination")
    assert sorted(p["endpointId"] for p in pairs) == sorted(endpoint_ids)
    assert len(message["endpointIds"]) == 130


async def test_retried_create_with_the_same_seed_does_not_duplicate(
    services: Services, store: CosmosStore, tenant: str
) -> None:
    app_id, _ = await _app_with_endpoints(services, tenant, {})
    data = MessageIn.model_validate({"eventType": "a", "payload": {}, "eventId": "once"})
    first = await services.messages.create(tenant, app_id, data, seed="2QvH3eCdb7TdD3ziG7FiYk1u0rh")
    again = await services.messages.create(tenant, app_id, data, seed="2QvH3eCdb7TdD3ziG7FiYk1u0rh")
    assert first["id"] == again["id"]
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
