"""Receivers that fail for a while: down (503s, or connections refused) or slow beyond the delivery
timeout. Every accepted message-endpoint pair still ends delivered or recorded as failed."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from tests.support.emulators import PrivateAzurite, PrivateCosmos
from tests.support.faults import LONG, Ledger, api_for, api_stream, fault_env, scaled, settle_and_check
from tests.support.hosts import serving_herald
from tests.support.receivers import Behaviour, Receiver
from tests.support.tokens import Minter

COUNT = scaled(40, 400)
RATE = scaled(16.0, 10.0)
# From half a second into the stream to past most of it (2.5 s at 16 messages a second).
OUTAGE_SECONDS = scaled(3.0, 30.0)
SETTLE_SECONDS = scaled(45.0, 120.0)


@pytest.fixture(scope="module")
def herald(herald_env: dict[str, str], cosmos: PrivateCosmos, storage: PrivateAzurite) -> Iterator[str]:
    """One host with the fault tests' settings for the scenarios that need no others: each test has
    an application of its own, and each settles every workflow it started before it ends."""
    env = fault_env(herald_env, cosmos_endpoint=cosmos.endpoint, storage=storage.connection_string)
    with serving_herald(env) as url:
        yield url


def _run_with_outage(
    scenario: str,
    url: str,
    receiver: Receiver,
    mint: Minter,
    *,
    fail: Behaviour | None,
    max_duplicate_ratio: float = 0.01,
) -> None:
    """Streams messages to two endpoints; the receiver fails from 0.5 s in, for the outage."""
    tenant = f"tenant-rel-{uuid.uuid4().hex[:8]}"
    with api_for(url, mint(tenant)) as api:
        app_id = api.create_app(scenario)
        targets = [api.create_target(app_id, receiver, f"{scenario}-{n}") for n in range(2)]
        ledger = Ledger()
        with api_stream(api, app_id, ledger, count=COUNT, rate=RATE, prefix=scenario):
            time.sleep(0.5)
            if fail is None:
                receiver.down()
            else:
                receiver.behave(fail)
            time.sleep(OUTAGE_SECONDS)
            receiver.up()
            receiver.healthy()
        report = settle_and_check(scenario, api, app_id, targets, receiver, ledger, timeout=SETTLE_SECONDS)
    assert report.answers == {"202": COUNT}, "a receiver's trouble is never the API's"
    report.assert_invariant(max_duplicate_ratio=max_duplicate_ratio)


def test_a_receiver_answering_503_for_longer_than_the_schedule_gets_every_pair_delivered_or_failed(
    fault_settings: dict[str, str], receiver: Receiver, mint: Minter
) -> None:
    # No breaker, and a schedule (4 attempts over about 1.5 s of timers) shorter than the outage:
    # a pair whose attempts all meet the outage ends `fail`, the others deliver once it is over.
    env = {**fault_settings, "HERALD_RETRY_SCHEDULE": "2,2,2", "HERALD_BREAKER_FAILURES": "100000"}
    with serving_herald(env) as url:
        _run_with_outage("down503", url, receiver, mint, fail=Behaviour(status=503))


def test_a_receiver_refusing_connections_for_a_while_gets_every_pair_delivered(
    herald: str, receiver: Receiver, mint: Minter
) -> None:
    # The breaker opens after 5 failures: pairs then wait without spending attempts, and the probe
    # after the receiver is back closes the circuit.
    _run_with_outage("refused", herald, receiver, mint, fail=None)


def test_a_receiver_slower_than_the_delivery_timeout_for_a_while_gets_every_pair_delivered(
    herald: str, receiver: Receiver, mint: Minter
) -> None:
    # Answers take 2 s, the timeout is 1 s: Herald gives up on each (the receiver's late 200 reaches
    # nobody), waits at least the floor, and retries once the receiver is fast again.
    _run_with_outage("slow", herald, receiver, mint, fail=Behaviour(delay=2.0))


@pytest.mark.slow
@pytest.mark.skipif(not LONG, reason="longer runs only with HERALD_LONG_TESTS=1")
def test_a_receiver_failing_a_third_of_its_requests_for_a_while_loses_nothing(
    herald: str, receiver: Receiver, mint: Minter
) -> None:
    _run_with_outage("flaky", herald, receiver, mint, fail=Behaviour(fail_fraction=0.3))
