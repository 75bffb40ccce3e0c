"""Delivery end to end through devhost: the svix SDK sends, loopback receivers answer, Durable retries.

Timers run 100x faster than the wall clock here (DEVHOST_DURABLE_TIMER_SCALE): the schedule below
is 100 s between attempts in the workflows' own clocks, one second of test time.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import azure.durable_functions as df
import httpx
import pytest
from standardwebhooks import Webhook
from svix.api import ApplicationIn, EndpointIn, MessageIn, Svix, SvixOptions
from svix.exceptions import HttpError

from blueprints._workflows import DurableWorkflows
from devhost.durable.binding import client_binding_value
from shared.clock import to_wire
from shared.models import MessageIn as HeraldMessageIn
from shared.services.delivery import RetryJob
from shared.services.registry import Services
from shared.store.base import ENDPOINTS, MESSAGES
from shared.store.schema import breaker_id
from tests.conftest import Minter, serving_herald
from tests.delivery.receivers import Receiver, running_receiver

TENANT = "tenant-delivery"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture(scope="module")
def delivery_url(herald_env: dict[str, str]) -> Iterator[str]:
    env = {
        **herald_env,
        "DEVHOST_DURABLE_TIMER_SCALE": "0.01",
        "HERALD_RETRY_SCHEDULE": "100,100,100",
        "HERALD_RETRY_FLOOR_SECONDS": "100",
        "HERALD_DELIVERY_TIMEOUT_SECONDS": "2",
        "HERALD_SWEEP_SCHEDULE": "*/2 * * * * *",
        "HERALD_SWEEP_GRACE_SECONDS": "5",
        # The breaker's cool-down runs on the wall clock (it is shared state, not a durable timer).
        "HERALD_BREAKER_FAILURES": "3",
        "HERALD_BREAKER_COOLDOWN_SECONDS": "3",
    }
    with serving_herald(env) as url:
        yield url


@pytest.fixture(scope="module")
def svix(delivery_url: str, mint: Minter) -> Svix:
    return Svix(mint(TENANT), SvixOptions(server_url=delivery_url))


@pytest.fixture
def app_id(svix: Svix) -> str:
    return svix.application.create(ApplicationIn(name="Deliveries", uid=f"d-{uuid.uuid4().hex[:10]}")).id


def _eventually(check: Callable[[], Any], *, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        else:
            if result is not None and result is not False:
                return result
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
        time.sleep(0.1)


def _pair_status(svix: Svix, app_id: str, msg_id: str) -> str:
    (destination,) = svix.message_attempt.list_attempted_destinations(app_id, msg_id).data
    return str(destination.status_text)


def _succeeded(svix: Svix, app_id: str, msg_id: str) -> bool:
    return _pair_status(svix, app_id, msg_id) == "success"


def _workflows(delivery_url: str, msg_id: str) -> list[dict[str, Any]]:
    listing = httpx.get(f"{delivery_url}/runtime/webhooks/durabletask/instances").json()
    return [instance for instance in listing if msg_id in instance["instanceId"]]


def test_the_happy_path_delivers_signed_records_success_and_starts_no_workflow(
    svix: Svix, app_id: str, receiver: Receiver, delivery_url: str
) -> None:
    path = f"ok-{uuid.uuid4().hex[:6]}"
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 200)))
    msg = svix.message.create(app_id, MessageIn(event_type="invoice.paid", payload={"invoice": "in_1"}))
    (request,) = receiver.wait_for(path, 1)
    secret = svix.endpoint.get_secret(app_id, endpoint.id).key
    assert Webhook(secret).verify(request.body, request.headers) == {"invoice": "in_1"}
    assert request.headers["webhook-id"] == msg.id
    _eventually(lambda: _pair_status(svix, app_id, msg.id) == "success")
    (attempt,) = svix.message_attempt.list_by_msg(app_id, msg.id).data
    assert (attempt.response_status_code, attempt.status_text, attempt.endpoint_id) == (
        200,
        "success",
        endpoint.id,
    )
    assert _workflows(delivery_url, msg.id) == []


def test_a_failing_endpoint_is_retried_until_it_succeeds(svix: Svix, app_id: str, receiver: Receiver) -> None:
    path = f"flaky-{uuid.uuid4().hex[:6]}"
    svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 500, 503, 200)))
    msg = svix.message.create(app_id, MessageIn(event_type="a", payload={"n": 1}))
    requests = receiver.wait_for(path, 3)
    assert {r.headers["webhook-id"] for r in requests} == {msg.id}
    _eventually(lambda: _pair_status(svix, app_id, msg.id) == "success")
    attempts = svix.message_attempt.list_by_msg(app_id, msg.id).data
    assert [a.response_status_code for a in reversed(attempts)] == [500, 503, 200]


def test_an_endpoint_that_always_fails_ends_failed_after_the_schedule(
    svix: Svix, app_id: str, receiver: Receiver
) -> None:
    path = f"down-{uuid.uuid4().hex[:6]}"
    svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 500)))
    msg = svix.message.create(app_id, MessageIn(event_type="a", payload={}))
    receiver.wait_for(path, 4)
    _eventually(lambda: _pair_status(svix, app_id, msg.id) == "fail")
    time.sleep(1.5)
    assert len(receiver.requests(path)) == 4  # the first attempt and the schedule's three retries
    assert len(svix.message_attempt.list_by_msg(app_id, msg.id).data) == 4


def test_410_gone_disables_the_endpoint(svix: Svix, app_id: str, receiver: Receiver) -> None:
    path = f"gone-{uuid.uuid4().hex[:6]}"
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 410)))
    msg = svix.message.create(app_id, MessageIn(event_type="a", payload={}))
    receiver.wait_for(path, 1)
    _eventually(lambda: svix.endpoint.get(app_id, endpoint.id).disabled)
    assert _pair_status(svix, app_id, msg.id) == "fail"


def test_deleting_an_endpoint_cancels_its_pending_retries(
    svix: Svix, app_id: str, receiver: Receiver
) -> None:
    path = f"deleted-{uuid.uuid4().hex[:6]}"
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 500)))
    msg = svix.message.create(app_id, MessageIn(event_type="a", payload={}))
    receiver.wait_for(path, 1)
    svix.endpoint.delete(app_id, endpoint.id)
    time.sleep(2.5)
    assert len(receiver.requests(path)) == 1
    with pytest.raises(HttpError):
        svix.endpoint.get(app_id, endpoint.id)
    assert msg.id


async def test_a_message_stored_but_never_dispatched_is_found_by_the_sweeper(
    svix: Svix, app_id: str, receiver: Receiver, services: Services
) -> None:
    path = f"swept-{uuid.uuid4().hex[:6]}"
    svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 200)))
    # Stored the way the API stores it, but the dispatch that follows is lost (a crash).
    message = await services.messages.create(
        TENANT, app_id, HeraldMessageIn.model_validate({"eventType": "a", "payload": {"lost": True}})
    )
    (request,) = receiver.wait_for(path, 1, timeout=30)
    assert request.headers["webhook-id"] == message["id"]
    _eventually(lambda: _pair_status(svix, app_id, message["id"]) == "success")
    # Found once: later sweeps (every 2 s here) do not send it again.
    await asyncio.sleep(6)
    assert len(receiver.requests(path)) == 1


async def test_the_breaker_opens_skips_requests_then_half_opens_and_closes(
    svix: Svix, app_id: str, receiver: Receiver, services: Services
) -> None:
    path = f"breaker-{uuid.uuid4().hex[:6]}"
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 500)))
    first = [svix.message.create(app_id, MessageIn(event_type="a", payload={"n": n})).id for n in range(3)]
    receiver.wait_for(path, 3)
    # The breaker counts a failure once the round is recorded and its retries started, a moment
    # after the receiver answered: wait for the third to open the circuit.
    for _ in range(100):
        state = await services.store.read(ENDPOINTS, [TENANT, app_id], breaker_id(endpoint.id))
        if state is not None and state.get("openUntil"):
            break
        await asyncio.sleep(0.05)
    # Three consecutive failures: the circuit is open. New messages and due retries make no request.
    later = svix.message.create(app_id, MessageIn(event_type="a", payload={"n": 3})).id
    await asyncio.sleep(1.5)
    assert len(receiver.requests(path)) == 3
    # The receiver recovers; after the cool-down one probe goes out, succeeds and closes the circuit.
    receiver.scripts[path] = [200]
    for msg_id in [*first, later]:
        _eventually(partial(_succeeded, svix, app_id, msg_id), timeout=30)
    # No request went out while the circuit was open: the probe came only after the cool-down.
    fourth = receiver.requests(path)[3]
    assert fourth.at - receiver.requests(path)[2].at >= 2.5


def test_deliver_at_waits_on_a_durable_timer(
    svix: Svix, app_id: str, receiver: Receiver, delivery_url: str
) -> None:
    path = f"later-{uuid.uuid4().hex[:6]}"
    svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 200)))
    deliver_at = datetime.now(UTC) + timedelta(minutes=10)
    msg = svix.message.create(app_id, MessageIn(event_type="a", payload={}, deliver_at=deliver_at))
    # Ten minutes of the workflow's clock pass in six seconds here.
    (request,) = receiver.wait_for(path, 1, timeout=30)
    assert request.headers["webhook-id"] == msg.id
    # The workflow completes once its activity has recorded the attempt, just after the receipt.
    _eventually(lambda: [w["runtimeStatus"] for w in _workflows(delivery_url, msg.id)] == ["Completed"])
    _eventually(lambda: _pair_status(svix, app_id, msg.id) == "success")


async def test_a_duplicated_dispatch_starts_one_workflow(
    svix: Svix, app_id: str, receiver: Receiver, services: Services, delivery_url: str
) -> None:
    path = f"dup-{uuid.uuid4().hex[:6]}"
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 200)))
    message = await services.messages.create(
        TENANT, app_id, HeraldMessageIn.model_validate({"eventType": "a", "payload": {"dup": True}})
    )
    # Its first round is on record (so the sweeper leaves it alone); its retry is due in 100 s of
    # workflow time (one second here). Five dispatchers race to start that retry at once.
    await services.attempts.mark_dispatched(message)
    job = RetryJob(TENANT, app_id, message["id"], endpoint.id, 1, 100, [100, 100, 100], 100)
    # The client a function gets, talking to devhost's public copy of the Durable API.
    rpc = f"{delivery_url}/runtime/webhooks"
    client = df.DurableOrchestrationClient(
        client_binding_value(origin=delivery_url, rpc_origin=rpc, hub="heraldtests")
    )
    workflows = DurableWorkflows(client)
    await asyncio.gather(*(services.dispatch.start_retries(workflows, [job]) for _ in range(5)))
    (request,) = receiver.wait_for(path, 1, timeout=30)
    assert request.headers["webhook-id"] == message["id"]
    await asyncio.sleep(2)
    assert len(receiver.requests(path)) == 1
    assert [w["instanceId"] for w in _workflows(delivery_url, message["id"])] == [job.instance_id]


async def test_a_retry_after_the_payload_expired_sends_nothing_and_cancels_the_pair(
    svix: Svix, app_id: str, receiver: Receiver, services: Services
) -> None:
    path = f"expired-{uuid.uuid4().hex[:6]}"
    svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 500, 200)))
    msg = svix.message.create(
        app_id, MessageIn(event_type="a", payload={"pii": 1}, payload_retention_hours=1)
    )
    receiver.wait_for(path, 1)
    # The hour passes before the retry (due in one second here): the payload is gone.
    stored = await services.store.read(MESSAGES, [TENANT, app_id], msg.id)
    assert stored is not None
    expired = to_wire(datetime.now(UTC) - timedelta(seconds=1))
    await services.store.replace(MESSAGES, {**stored, "payloadExpiresAt": expired}, etag=stored["_etag"])
    _eventually(lambda: _pair_status(svix, app_id, msg.id) == "canceled")
    await asyncio.sleep(1.5)
    assert len(receiver.requests(path)) == 1
