"""`application.list` options and application settings through the svix SDK."""

from __future__ import annotations

import time
import uuid

import pytest
from svix.api import (
    ApplicationIn,
    ApplicationListOptions,
    ApplicationPatch,
    EndpointIn,
    MessageIn,
    Svix,
    SvixOptions,
)

from tests.support.receivers import Receiver
from tests.support.tokens import Minter

PLAY = "https://play.svix.com/in/e_{}/"


@pytest.fixture
def own(herald_url: str, mint: Minter) -> Svix:
    """A client of a tenant of the test's own: it lists only the applications this test made."""
    return Svix(mint(f"tenant-{uuid.uuid4().hex[:12]}"), SvixOptions(server_url=herald_url))


def _all(svix: Svix, options: ApplicationListOptions) -> list[str]:
    """Every application the options list, page by page; each page but the last is full."""
    seen: list[str] = []
    while True:
        page = svix.application.list(options)
        seen += [app.name for app in page.data]
        if page.done:
            return seen
        assert len(page.data) == options.limit, seen
        options.iterator = page.iterator


def test_applications_are_filtered_by_their_endpoints(own: Svix) -> None:
    shapes: dict[str, list[tuple[str, bool]]] = {
        "none": [],
        "enabled": [("https://hooks.example.com/a", False)],
        "disabled": [("https://hooks.example.com/b", True)],
        "all-disabled": [("https://hooks.example.com/c", True), ("https://hooks.example.com/d", True)],
        "mixed": [("https://hooks.example.com/e", True), ("https://hooks.example.com/f", False)],
        "play": [(PLAY.format("1"), False)],
        "play-and-real": [(PLAY.format("2"), False), ("https://hooks.example.com/g", False)],
        "also-none": [],
    }
    for name, endpoints in shapes.items():
        app_id = own.application.create(ApplicationIn(name=name)).id
        for url, disabled in endpoints:
            own.endpoint.create(app_id, EndpointIn(url=url, disabled=disabled))
    everything = list(shapes)

    def listed(**flags: bool) -> list[str]:
        return _all(own, ApplicationListOptions(limit=2, **flags))  # type: ignore[arg-type]

    assert listed() == everything
    assert listed(exclude_apps_with_no_endpoints=True) == [n for n in everything if shapes[n]]
    assert listed(exclude_apps_with_disabled_endpoints=True) == [
        n for n in everything if n not in ("disabled", "all-disabled")
    ]
    assert listed(exclude_apps_with_svix_play_endpoints=True) == [n for n in everything if n != "play"]
    assert listed(exclude_apps_with_no_endpoints=True, exclude_apps_with_disabled_endpoints=True) == [
        "enabled",
        "mixed",
        "play",
        "play-and-real",
    ]
    # Backwards from the end, with the filters held.
    last = own.application.list(ApplicationListOptions(limit=250, exclude_apps_with_no_endpoints=True))
    back = own.application.list(
        ApplicationListOptions(limit=2, iterator=f"-{last.data[-1].id}", exclude_apps_with_no_endpoints=True)
    )
    assert [app.name for app in back.data] == ["mixed", "play"]
    before = own.application.list(
        ApplicationListOptions(limit=2, iterator=back.prev_iterator, exclude_apps_with_no_endpoints=True)
    )
    assert [app.name for app in before.data] == ["disabled", "all-disabled"]


def test_the_application_rate_holds_across_its_endpoints(svix: Svix, receiver: Receiver) -> None:
    # svix 1.x's name for the rate is read too (`rateLimit`), and answered beside `throttleRate`.
    app = svix.application.create(ApplicationIn(name="throttled", throttle_rate=10))
    assert app.throttle_rate == 10
    paths = [f"{name}-{app.id}" for name in ("one", "two")]
    for path in paths:
        svix.endpoint.create(app.id, EndpointIn(url=receiver.url(path, 200)))
    for index in range(10):
        svix.message.create(app.id, MessageIn(event_type="a", payload={"i": index}))
    arrivals = sorted(hit.at for path in paths for hit in receiver.wait_for(path, 10))
    # 20 deliveries at 10 a second with a burst of 10: the last waits at least a second.
    assert arrivals[-1] - arrivals[0] >= 0.8, arrivals
    # A PATCH with 0 (as Svix's spec allows) means no limit, as null does.
    cleared = svix.application.patch(app.id, ApplicationPatch(throttle_rate=0))
    assert cleared.throttle_rate is None
    assert svix.application.get(app.id).throttle_rate is None
    started = time.monotonic()
    for index in range(10):
        svix.message.create(app.id, MessageIn(event_type="a", payload={"i": index}))
    for path in paths:
        receiver.wait_for(path, 20)
    assert time.monotonic() - started < 5
