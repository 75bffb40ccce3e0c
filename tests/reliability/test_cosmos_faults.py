"""Cosmos DB goes away mid-stream: its process paused (SIGSTOP), or its connections cut by a proxy.

While it is away the API answers 503 with Retry-After (never 500, never a 2xx for a message it
could not store) and readiness answers 503. Once it is back, every accepted message-endpoint pair
ends delivered or recorded as failed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from devhost.testing import free_port
from tests.support.emulators import PrivateAzurite, PrivateCosmos, private_cosmos
from tests.support.faults import (
    Api,
    Ledger,
    api_for,
    api_stream,
    assert_not_ready,
    fault_env,
    readiness,
    scaled,
    settle_and_check,
    workflows,
)
from tests.support.hosts import serving_herald
from tests.support.proxy import TcpProxy, running_proxy
from tests.support.receivers import Behaviour, Receiver
from tests.support.tokens import Minter

COUNT = scaled(40, 400)
RATE = scaled(8.0, 10.0)
# Longer than one Cosmos operation may take (HERALD_COSMOS_TIMEOUT_SECONDS): requests meet it.
OUTAGE_SECONDS = scaled(4.0, 20.0)
COSMOS_TIMEOUT = "2"
SETTLE_SECONDS = scaled(45.0, 120.0)


@pytest.fixture(scope="module")
def herald(herald_env: dict[str, str], cosmos: PrivateCosmos, storage: PrivateAzurite) -> Iterator[str]:
    """One host on the private Cosmos server for the scenarios that pause it: each test has an
    application of its own and settles every workflow it started before it ends."""
    env = fault_env(
        herald_env,
        cosmos_endpoint=cosmos.endpoint,
        storage=storage.connection_string,
        HERALD_COSMOS_TIMEOUT_SECONDS=COSMOS_TIMEOUT,
    )
    with serving_herald(env) as url:
        yield url


@pytest.fixture
def cosmos_behind_proxy() -> Iterator[tuple[PrivateCosmos, TcpProxy]]:
    """A private Cosmos server reachable only through a proxy: its account advertises the proxy.

    The SDK reads the account first, then sends every request to the account's advertised
    (writable) endpoint: a server advertising itself would be reached around the proxy.
    """
    proxy_port = free_port()
    with (
        private_cosmos(advertised_port=proxy_port) as server,
        running_proxy(server.port, port=proxy_port) as proxy,
    ):
        yield server, proxy


def _assert_answers_during_outage(ledger: Ledger) -> None:
    """Every create was accepted or refused with 503 and Retry-After; nothing else."""
    for sent in ledger.sent:
        assert sent.status in (202, 503), f"{sent.ref}: answered {sent.status} ({sent.error})"
        if sent.status == 503:
            assert sent.retry_after and sent.retry_after.isdigit(), f"{sent.ref}: 503 without Retry-After"
    assert ledger.statuses()["503"] > 0, "the outage refused nothing: it did not happen"


def _stream_through_outage(
    scenario: str, api: Api, url: str, receiver: Receiver, outage: Callable[[], None]
) -> None:
    app_id = api.create_app(scenario)
    targets = [api.create_target(app_id, receiver, f"{scenario}-{n}") for n in range(2)]
    ledger = Ledger()
    with api_stream(api, app_id, ledger, count=COUNT, rate=RATE, prefix=scenario):
        time.sleep(1.5)
        outage()
    assert readiness(url).status_code == 200
    report = settle_and_check(scenario, api, app_id, targets, receiver, ledger, timeout=SETTLE_SECONDS)
    _assert_answers_during_outage(ledger)
    report.assert_invariant(max_duplicate_ratio=0.01)


def test_a_paused_cosmos_gets_503s_with_retry_after_then_every_accepted_pair_ends_delivered(
    herald: str, cosmos: PrivateCosmos, receiver: Receiver, mint: Minter
) -> None:
    url = herald
    with api_for(url, mint(f"tenant-rel-{uuid.uuid4().hex[:8]}")) as api:

        def pause() -> None:
            with cosmos.server.paused_for_a_while():
                started = time.monotonic()
                assert_not_ready(readiness(url), "cosmos")
                time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - started)))

        _stream_through_outage("paused", api, url, receiver, pause)


def test_retries_that_come_due_while_cosmos_is_paused_still_end_delivered(
    herald: str, cosmos: PrivateCosmos, receiver: Receiver, mint: Minter
) -> None:
    count = scaled(12, 100)
    url = herald
    with api_for(url, mint(f"tenant-rel-{uuid.uuid4().hex[:8]}")) as api:
        app_id = api.create_app("retry-outage")
        targets = [api.create_target(app_id, receiver, f"retry-outage-{n}") for n in range(2)]
        # Every first attempt fails: each pair gets a retry workflow, its next attempt half a second on.
        receiver.behave(Behaviour(status=500))
        ledger = Ledger()
        with api_stream(api, app_id, ledger, count=count, rate=12.0, prefix="retry"):
            pass
        deadline = time.monotonic() + 15
        while sum(workflows(url, app_id).values()) < count * len(targets) and time.monotonic() < deadline:
            time.sleep(0.1)
        # The retries come due while the store is away; the receiver is healthy when it is back.
        with cosmos.server.paused_for_a_while():
            time.sleep(OUTAGE_SECONDS)
            receiver.healthy()
        report = settle_and_check(
            "retry-outage", api, app_id, targets, receiver, ledger, timeout=SETTLE_SECONDS
        )
    assert report.answers == {"202": count}
    report.assert_invariant(max_duplicate_ratio=0.01)


def test_cut_cosmos_connections_get_503s_with_retry_after_then_every_accepted_pair_ends_delivered(
    fault_settings: dict[str, str],
    cosmos_behind_proxy: tuple[PrivateCosmos, TcpProxy],
    receiver: Receiver,
    mint: Minter,
) -> None:
    server, proxy = cosmos_behind_proxy
    env = {
        **fault_settings,
        "HERALD_COSMOS_ENDPOINT": f"https://127.0.0.1:{proxy.port}",
        "HERALD_COSMOS_TIMEOUT_SECONDS": COSMOS_TIMEOUT,
    }
    with serving_herald(env) as url, api_for(url, mint(f"tenant-rel-{uuid.uuid4().hex[:8]}")) as api:
        assert readiness(url).status_code == 200
        carried = proxy.stats.bytes_up

        def cut() -> None:
            proxy.cut(OUTAGE_SECONDS)
            assert_not_ready(readiness(url), "cosmos")
            deadline = time.monotonic() + OUTAGE_SECONDS + 10
            while not proxy.listening and time.monotonic() < deadline:
                time.sleep(0.1)

        _stream_through_outage("cut", api, url, receiver, cut)
    # Herald's traffic went through the proxy, not around it.
    assert proxy.stats.bytes_up - carried > 100_000
    assert proxy.stats.refused_windows == 1
    assert server.server.process.poll() is None
