"""First rounds of one application written together (group commit) against the Cosmos server."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from shared.delivery.sender import AttemptResult
from shared.models import ApplicationIn, EndpointIn, MessageIn, MessageStatus
from shared.services.attempts import AttemptService, DestinationUpdate, dispatch_marker
from shared.services.registry import Services
from shared.store.base import MESSAGES, DocumentStore
from shared.store.schema import MessageDoc, destination_id


class CountingStore:
    """The real store, counting the batches it is asked to write."""

    def __init__(self, store: DocumentStore) -> None:
        self._store = store
        self.batches: list[int] = []

    async def create_batch(self, container: str, pk: list[str], docs: Sequence[Mapping[str, Any]]) -> None:
        self.batches.append(len(docs))
        await self._store.create_batch(container, pk, docs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def _setup(services: Services, tenant: str, count: int) -> tuple[str, list[MessageDoc]]:
    app, _ = await services.applications.create(tenant, ApplicationIn(name="rounds"))
    endpoint = await services.endpoints.create(
        tenant, app["id"], EndpointIn.model_validate({"url": "http://127.0.0.1:9/"})
    )
    data = MessageIn.model_validate({"eventType": "a", "payload": {}})
    messages = [await services.messages.create(tenant, app["id"], data) for _ in range(count)]
    return endpoint["id"], messages


async def _round(attempts: AttemptService, message: MessageDoc, endpoint_id: str) -> None:
    result = AttemptResult(200, "ok", 2, success=True)
    attempt = attempts.attempt_doc(message, endpoint_id, result, url="http://127.0.0.1:9/")
    await attempts.record_round(
        message, [DestinationUpdate(endpoint_id, MessageStatus.SUCCESS, None, attempt)]
    )


async def _landed(services: Services, message: MessageDoc, endpoint_id: str) -> bool:
    pk = [message["tenantId"], message["appId"]]
    pair = await services.store.read(MESSAGES, pk, destination_id(message["id"], endpoint_id))
    marker = await services.store.read(MESSAGES, pk, dispatch_marker(message)["id"])
    return pair is not None and pair["status"] == MessageStatus.SUCCESS and marker is not None


async def test_concurrent_rounds_of_one_application_share_batches_and_all_land(
    services: Services, tenant: str
) -> None:
    endpoint_id, messages = await _setup(services, tenant, 20)
    store = CountingStore(services.store)
    attempts = AttemptService(store, services.applications, services.endpoints, services.messages)

    await asyncio.gather(*(_round(attempts, message, endpoint_id) for message in messages))

    assert all([await _landed(services, message, endpoint_id) for message in messages])
    # The first round goes alone; the others, queued behind it, go together.
    assert len(store.batches) <= 3, store.batches
    assert sum(store.batches) == 20 * 3


async def test_a_round_that_collides_in_a_joint_batch_does_not_stop_the_others(
    services: Services, tenant: str
) -> None:
    endpoint_id, messages = await _setup(services, tenant, 10)
    # One message's marker exists already (the sweeper got there first).
    await services.store.create(MESSAGES, dispatch_marker(messages[5]))
    store = CountingStore(services.store)
    attempts = AttemptService(store, services.applications, services.endpoints, services.messages)

    await asyncio.gather(*(_round(attempts, message, endpoint_id) for message in messages))

    assert all([await _landed(services, message, endpoint_id) for message in messages])
