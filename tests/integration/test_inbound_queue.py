"""The inbound queue: a producer enqueues on Azurite, the queue function accepts or dead-letters.

Until devhost polls queues, the tests receive the message from Azurite themselves and invoke the
registered function with the `func.QueueMessage` the host would build.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage as HostQueueMessage
from azure.storage.queue.aio import QueueClient

from shared.jsonbody import MAX_DEPTH
from shared.models import ApplicationIn
from shared.pagination import ListParams
from shared.services.registry import Services
from shared.store.base import MESSAGES
from shared.store.cosmos import CosmosStore
from tests.support.settings import AZURITE_CONNECTION

QueueFunction = Callable[..., Coroutine[Any, Any, None]]
UNUSED_DURABLE_CLIENT = json.dumps(
    {
        "taskHubName": "tests",
        "creationUrls": {},
        "managementUrls": {},
        "baseUrl": "http://127.0.0.1:9/runtime/webhooks/durabletask",
        "requiredQueryStringParameters": "",
        "rpcBaseUrl": "http://127.0.0.1:9/durabletask/",
    }
)


@pytest.fixture
async def queue() -> AsyncIterator[QueueClient]:
    client = QueueClient.from_connection_string(AZURITE_CONNECTION, f"herald-inbound-{uuid.uuid4().hex[:8]}")
    await client.create_queue()
    yield client
    await client.delete_queue()
    await client.close()


@pytest.fixture
def inbound_function(in_process: Services) -> QueueFunction:
    """The registered queue function (as the host calls it), wired to this session's services."""
    from blueprints import inbound_queue

    function = inbound_queue.inbound_queue

    async def invoke(msg: func.QueueMessage) -> None:
        # These apps have no endpoints, so no retry workflow is started: the client's address
        # (the binding value the host injects) is never called.
        await function(msg=msg, client=UNUSED_DURABLE_CLIENT)

    return invoke


async def _deliver(queue: QueueClient, body: str, function: QueueFunction) -> str:
    """Enqueue as a producer would (plain text: host.json says messageEncoding none), then run."""
    await queue.send_message(body)
    received = [m async for m in queue.receive_messages(max_messages=1)]
    (message,) = received
    await function(
        # The message type the host's queue binding builds (id, dequeue count, insertion time).
        HostQueueMessage(
            id=message.id,
            body=message.content.encode(),
            dequeue_count=message.dequeue_count,
            insertion_time=message.inserted_on,
            pop_receipt=message.pop_receipt,
        )
    )
    await queue.delete_message(message)
    return str(message.id)


async def _messages(store: CosmosStore, tenant: str, app_id: str) -> list[dict[str, Any]]:
    return await store.query(MESSAGES, [tenant, app_id], where="c.type = 'message'")


async def test_a_valid_queue_message_becomes_a_message(
    queue: QueueClient, inbound_function: QueueFunction, services: Services, store: CosmosStore, tenant: str
) -> None:
    app, _ = await services.applications.create(tenant, ApplicationIn(name="A", uid="acme"))
    body = {"tenantId": tenant, "appId": "acme", "eventType": "user.created", "payload": {"id": 7}}
    await _deliver(queue, json.dumps(body), inbound_function)
    (stored,) = await _messages(store, tenant, app["id"])
    assert stored["payload"] == {"id": 7} and stored["eventType"] == "user.created"


async def test_a_redelivered_queue_message_is_stored_once(
    inbound_function: QueueFunction, services: Services, store: CosmosStore, tenant: str
) -> None:
    app, _ = await services.applications.create(tenant, ApplicationIn(name="A"))
    body = json.dumps({"tenantId": tenant, "appId": app["id"], "eventType": "a", "payload": {}}).encode()
    for dequeue_count in (1, 2):
        await inbound_function(HostQueueMessage(id="same-queue-id", body=body, dequeue_count=dequeue_count))
    assert len(await _messages(store, tenant, app["id"])) == 1


async def test_the_producers_idempotency_key_dedupes_across_queue_messages(
    inbound_function: QueueFunction, services: Services, store: CosmosStore, tenant: str
) -> None:
    app, _ = await services.applications.create(tenant, ApplicationIn(name="A"))
    body = {"tenantId": tenant, "appId": app["id"], "eventType": "a", "payload": {}, "idempotencyKey": "k1"}
    for queue_id in ("q1", "q2"):
        await inbound_function(HostQueueMessage(id=queue_id, body=json.dumps(body).encode()))
    assert len(await _messages(store, tenant, app["id"])) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"appId": "a", "eventType": "x", "payload": {}}), "tenantId"),
        (json.dumps({"tenantId": "{tenant}", "appId": "nope", "eventType": "x", "payload": {}}), "not found"),
        (
            json.dumps({"tenantId": "{tenant}", "appId": "a", "eventType": "bad type!", "payload": {}}),
            "eventType",
        ),
    ],
)
async def test_an_invalid_queue_message_becomes_a_dead_letter_not_a_retry(
    queue: QueueClient,
    inbound_function: QueueFunction,
    services: Services,
    tenant: str,
    body: str,
    reason: str,
) -> None:
    body = body.replace("{tenant}", tenant)
    queue_id = await _deliver(queue, body, inbound_function)
    owner = tenant if tenant in body else "_unattributed"
    page = await services.dead_letters.list_page(owner, _params())
    letters = [d for d in page["data"] if d.queue_message_id == queue_id]
    assert len(letters) == 1
    assert reason in letters[0].reason
    assert letters[0].body == body


def _params() -> ListParams:
    return ListParams(limit=250)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ('{"a":' * MAX_DEPTH + "1" + "}" * MAX_DEPTH, f"deeper than {MAX_DEPTH} levels"),
        ("[" * 5000 + "]" * 5000, f"deeper than {MAX_DEPTH} levels"),
        ('{"note":"\\ud800"}', "lone UTF-16 surrogate"),
    ],
    ids=["limit+1", "5000", "lone surrogate"],
)
async def test_a_queue_message_nested_too_deep_or_not_unicode_is_a_dead_letter(
    queue: QueueClient,
    inbound_function: QueueFunction,
    services: Services,
    store: CosmosStore,
    tenant: str,
    payload: str,
    reason: str,
) -> None:
    app, _ = await services.applications.create(tenant, ApplicationIn(name="A"))
    body = f'{{"tenantId":"{tenant}","appId":"{app["id"]}","eventType":"a","payload":{payload}}}'
    queue_id = await _deliver(queue, body, inbound_function)  # returns: not retried by the host
    assert await _messages(store, tenant, app["id"]) == []
    page = await services.dead_letters.list_page("_unattributed", _params())
    (letter,) = [d for d in page["data"] if d.queue_message_id == queue_id]
    assert reason in letter.reason and letter.body == body
