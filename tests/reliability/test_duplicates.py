"""Duplicates on the way in: the same API call repeated with its idempotency key (one after the
other, and all at once), the same body enqueued twice with one `idempotencyKey`, and one queue
message delivered twice to the host (its first host died mid-invocation). Each is one message,
delivered once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from devhost.testing import free_port, run_devhost
from tests.support.emulators import PrivateAzurite
from tests.support.faults import Api, InboundQueue, Target, api_for
from tests.support.hosts import serving_herald
from tests.support.receivers import Behaviour, Receiver
from tests.support.settings import ROOT
from tests.support.tokens import Minter

CONCURRENT_DUPLICATES = 8
# Long enough for a message's first attempt to be made, and for a second one to show up if sent.
SETTLE_SECONDS = 20.0


def _delivered_once(api: Api, receiver: Receiver, app_id: str, target: Target, ref: str) -> str:
    """Waits for the one delivery of `ref`, then checks it stays one: one message, one request."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while not receiver.acknowledged(ref) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)
    (hit,) = receiver.acknowledged(ref)
    assert hit.path == target.path
    (msg_id,) = api.messages_by_ref(app_id)[ref]
    assert hit.msg_id == msg_id
    return msg_id


@pytest.fixture
def herald(fault_settings: dict[str, str], mint: Minter) -> Iterator[tuple[Api, str]]:
    tenant = f"tenant-rel-{uuid.uuid4().hex[:8]}"
    with serving_herald(fault_settings) as url, api_for(url, mint(tenant)) as api:
        yield api, tenant


def test_the_same_create_repeated_with_its_idempotency_key_is_one_message_delivered_once(
    herald: tuple[Api, str], receiver: Receiver
) -> None:
    api, _ = herald
    app_id = api.create_app("dup-api")
    target = api.create_target(app_id, receiver, "dup-api")
    answers = [api.send(app_id, "sequential", key="key-sequential") for _ in range(3)]
    with ThreadPoolExecutor(CONCURRENT_DUPLICATES) as pool:
        at_once = list(
            pool.map(
                lambda _: api.send(app_id, "concurrent", key="key-concurrent"), range(CONCURRENT_DUPLICATES)
            )
        )
    for ref, sent in (("sequential", answers), ("concurrent", at_once)):
        assert {s.status for s in sent} == {202}, [(s.status, s.error) for s in sent]
        (msg_id,) = {s.msg_id for s in sent}
        assert _delivered_once(api, receiver, app_id, target, ref) == msg_id


def test_the_same_body_enqueued_twice_with_one_idempotency_key_is_one_message_delivered_once(
    herald: tuple[Api, str], storage: PrivateAzurite, receiver: Receiver
) -> None:
    api, tenant = herald
    app_id = api.create_app("dup-queue")
    target = api.create_target(app_id, receiver, "dup-queue")
    queue = InboundQueue(storage.connection_string)
    try:
        first = queue.publish(tenant, app_id, "twice", key="order-991-paid")
        second = queue.publish(tenant, app_id, "twice", key="order-991-paid")
    finally:
        queue.close()
    assert first and second and first != second
    _delivered_once(api, receiver, app_id, target, "twice")


def test_a_queue_message_redelivered_after_its_host_died_mid_invocation_is_one_message_delivered_once(
    restartable: dict[str, str], storage: PrivateAzurite, receiver: Receiver, mint: Minter, tmp_path: Path
) -> None:
    tenant = f"tenant-rel-{uuid.uuid4().hex[:8]}"
    env = {
        **restartable,
        # The first attempt waits on the receiver, well inside the delivery timeout.
        "HERALD_DELIVERY_TIMEOUT_SECONDS": "10",
    }
    port = free_port()
    queue = InboundQueue(storage.connection_string)
    with api_for(f"http://127.0.0.1:{port}", mint(tenant)) as api:
        try:
            with run_devhost(ROOT, port=port, env=env, log_path=tmp_path / "first.log") as first:
                app_id = api.create_app("redelivered")
                target = api.create_target(app_id, receiver, "redelivered")
                # The receiver holds the first attempt; the host dies while its invocation waits.
                receiver.behave(Behaviour(delay=3.0))
                queue_id = queue.publish(tenant, app_id, "redelivered")
                assert queue_id
                assert receiver.wait_for_arrival("redelivered", timeout=20), "the first host sent nothing"
                first.process.kill()
                first.process.wait(10)
            receiver.healthy()
            # Its lease (DEVHOST_QUEUE_LEASE_SECONDS) runs out: the message is visible again.
            with run_devhost(ROOT, port=port, env=env, log_path=tmp_path / "second.log") as second:
                msg_id = _delivered_once(api, receiver, app_id, target, "redelivered")
                assert f"message {queue_id} dequeue count 2" in second.log_text()
        finally:
            queue.close()
    assert msg_id.startswith("msg_")
    # The held first attempt never reached Herald: it is not a delivery.
    assert [hit.answered for hit in receiver.snapshot() if hit.ref == "redelivered"] == [False, True]
