"""An endpoint's health (GET .../endpoint/{id}/health, Herald's own route), and what the portal says
of it: the circuit breaker's state, and why the endpoint is disabled.

Cost: about 2 s (six messages to failing receivers, one page).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from playwright.sync_api import Page, expect
from svix.api import EndpointIn, EndpointPatch, MessageIn, Svix

from shared.settings import HeraldSettings
from tests.portal.conftest import Links
from tests.support.receivers import Receiver
from tests.support.tokens import Minter

BREAKER_FAILURES = HeraldSettings().breaker_failures  # the portal's Herald keeps the default


@pytest.fixture
def api(base_url: str, mint: Minter, tenant: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{base_url}/api/v1", headers={"authorization": f"Bearer {mint(tenant)}"}
    ) as client:
        yield client


def _health(api: httpx.Client, app_id: str, endpoint_id: str) -> dict[str, object]:
    answer = api.get(f"/app/{app_id}/endpoint/{endpoint_id}/health")
    assert answer.status_code == 200, answer.text
    health: dict[str, object] = answer.json()
    return health


def _until[T](read: Callable[[], T], done: Callable[[T], bool], *, timeout: float = 10.0) -> T:
    """`read()` again until `done` holds of it (a poll on state, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not done(value := read()):
        assert time.monotonic() < deadline, value
        time.sleep(0.05)
    return value


def test_a_healthy_endpoint_and_one_disabled_by_hand(api: httpx.Client, app_id: str, svix: Svix) -> None:
    endpoint = svix.endpoint.create(app_id, EndpointIn(url="http://127.0.0.1:9/by-hand"))
    assert _health(api, app_id, endpoint.id) == {
        "circuit": "closed",
        "failures": 0,
        "failingSince": None,
        "openUntil": None,
        "disabled": False,
        "disabledReason": None,
        "disabledAt": None,
    }
    svix.endpoint.patch(app_id, endpoint.id, EndpointPatch(disabled=True))
    health = _health(api, app_id, endpoint.id)
    assert (health["disabled"], health["disabledReason"]) == (True, "manual")
    assert isinstance(health["disabledAt"], str)
    svix.endpoint.patch(app_id, endpoint.id, EndpointPatch(disabled=False))
    assert _health(api, app_id, endpoint.id)["disabled"] is False
    assert api.get(f"/app/{app_id}/endpoint/ep_missing/health").status_code == 404


def test_failures_open_the_circuit(api: httpx.Client, app_id: str, svix: Svix, receiver: Receiver) -> None:
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url("always-down", 500)))
    for n in range(BREAKER_FAILURES):
        svix.message.create(app_id, MessageIn(event_type="invoice.paid", payload={"n": n}))
    receiver.wait_for("always-down", BREAKER_FAILURES)
    # Each failure is counted once its answer is in: poll until the last one is.
    health = _until(lambda: _health(api, app_id, endpoint.id), lambda h: h["failures"] == BREAKER_FAILURES)
    assert (health["circuit"], health["failures"], health["disabled"]) == ("open", BREAKER_FAILURES, False)
    assert datetime.fromisoformat(str(health["openUntil"])) > datetime.now(UTC)
    assert datetime.fromisoformat(str(health["failingSince"])) <= datetime.now(UTC)


def test_a_receiver_answering_410_gets_its_endpoint_disabled_and_the_portal_says_why(
    page: Page, links: Links, api: httpx.Client, app_id: str, svix: Svix, receiver: Receiver
) -> None:
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url("gone", 410)))
    svix.message.create(app_id, MessageIn(event_type="invoice.paid", payload={}))
    receiver.wait_for("gone", 1)
    # The disable follows the attempt's answer: poll until it lands.
    _until(lambda: _health(api, app_id, endpoint.id), lambda h: h["disabled"] is True)
    page.goto(links.url(app_id))
    page.get_by_role("link", name=endpoint.url).click()
    expect(page.get_by_test_id("disabled-state")).to_contain_text(
        "Disabled automatically: the receiver answered 410 Gone."
    )
    health = _health(api, app_id, endpoint.id)
    assert (health["disabled"], health["disabledReason"], health["circuit"]) == (True, "gone", "closed")
