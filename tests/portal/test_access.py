"""What a link allows: read-only links show no action, expired or refused ones say so, another
application's data never shows, the token stays out of logs, addresses and referrers, and a 429
is waited out, saying so.

Cost: about 1 s per test; the 429 test about 3 s (it waits out Herald's Retry-After).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, Request, expect
from svix.api import (
    ApplicationIn,
    ApplicationTokenExpireIn,
    AppPortalCapability,
    EndpointIn,
    MessageIn,
    Svix,
)

from devhost.testing import RunningDevhost
from tests.portal.conftest import Links, screenshot

ACTIONS = ["Add endpoint", "Edit", "Disable", "Enable", "Delete", "Reveal secret", "Rotate secret", "Resend"]


def _no_actions(page: Page) -> None:
    for name in ACTIONS:
        expect(page.get_by_role("button", name=name)).to_have_count(0)


def test_a_read_only_link_hides_every_action(page: Page, links: Links, app_id: str, svix: Svix) -> None:
    endpoint = svix.endpoint.create(app_id, EndpointIn(url="http://127.0.0.1:9/read-only"))
    message = svix.message.create(app_id, MessageIn(event_type="invoice.paid", payload={}))

    page.goto(links.url(app_id, read_only=True))
    expect(page.get_by_text("Read-only", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=endpoint.url)).to_be_visible()
    _no_actions(page)
    page.get_by_role("link", name=endpoint.url).click()
    expect(page.get_by_role("heading", name="Health")).to_be_visible()
    expect(page.get_by_role("region", name="Custom headers")).to_contain_text("None.")
    _no_actions(page)
    screenshot(page, "endpoint-read-only")
    page.goto(f"{links.base_url}/api/portal/messages/{message.id}")
    expect(page.get_by_test_id("attempt")).to_have_count(1)
    _no_actions(page)


def test_a_link_shows_only_the_actions_its_capabilities_allow(
    page: Page, links: Links, app_id: str, svix: Svix
) -> None:
    endpoint = svix.endpoint.create(app_id, EndpointIn(url="http://127.0.0.1:9/capable"))
    message = svix.message.create(app_id, MessageIn(event_type="invoice.paid", payload={}))
    page.goto(
        links.url(
            app_id,
            capabilities=[AppPortalCapability.VIEW_ENDPOINT_SECRET, AppPortalCapability.CREATE_ATTEMPTS],
        )
    )
    expect(page.get_by_role("link", name=endpoint.url)).to_be_visible()
    expect(page.get_by_role("button", name="Add endpoint")).to_have_count(0)
    page.get_by_role("link", name=endpoint.url).click()
    page.get_by_role("button", name="Reveal secret").click()
    expect(page.get_by_test_id("secret")).to_have_text(svix.endpoint.get_secret(app_id, endpoint.id).key)
    for hidden in ("Rotate secret", "Edit", "Disable", "Delete"):
        expect(page.get_by_role("button", name=hidden)).to_have_count(0)
    page.goto(f"{links.base_url}/api/portal/messages/{message.id}")
    expect(page.get_by_role("button", name=f"Resend to {endpoint.url}")).to_be_visible()
    expect(page.get_by_text("Read-only", exact=True)).to_have_count(0)


def test_a_link_that_expires_while_open_says_so(page: Page, links: Links, app_id: str) -> None:
    page.clock.install()
    page.goto(links.url(app_id))
    expect(page.get_by_role("heading", name="No endpoints yet")).to_be_visible()
    # A link lasts 7 days unless asked otherwise: the page's clock jumps past that.
    page.clock.fast_forward(7 * 24 * 3600 * 1000 + 1000)
    expect(page.get_by_role("heading", name="This link has expired")).to_be_visible()
    expect(page.get_by_text("Ask for a new one.")).to_be_visible()
    screenshot(page, "expired")
    page.reload()
    expect(page.get_by_role("heading", name="This link has expired")).to_be_visible()


def test_a_revoked_link_says_it_expired_and_is_forgotten(
    page: Page, links: Links, app_id: str, svix: Svix
) -> None:
    page.goto(links.url(app_id))
    expect(page.get_by_role("heading", name="No endpoints yet")).to_be_visible()
    svix.authentication.expire_all(app_id, ApplicationTokenExpireIn(expiry=0))
    page.get_by_role("link", name="Messages").click()
    expect(page.get_by_role("heading", name="This link has expired")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="No access link")).to_be_visible()


def test_another_applications_data_never_appears(page: Page, links: Links, app_id: str, svix: Svix) -> None:
    ours = svix.endpoint.create(app_id, EndpointIn(url="http://127.0.0.1:9/ours"))
    svix.message.create(app_id, MessageIn(event_type="invoice.paid", payload={"whose": "ours"}))
    other = svix.application.create(ApplicationIn(name="Other Corp")).id
    theirs = svix.endpoint.create(other, EndpointIn(url="http://127.0.0.1:9/theirs"))
    their_message = svix.message.create(
        other, MessageIn(event_type="invoice.paid", payload={"whose": "theirs"})
    )

    # A portal token names its application: an `app` added to the link changes nothing.
    page.goto(f"{links.url(app_id)}&app={other}")
    expect(page.get_by_role("link", name=ours.url)).to_be_visible()
    expect(page.get_by_role("list", name="Endpoints").get_by_role("listitem")).to_have_count(1)
    page.get_by_role("link", name="Messages").click()
    expect(page.get_by_role("region", name="Messages").get_by_role("row")).to_have_count(2)
    page.goto(f"{links.base_url}/api/portal/endpoints/{theirs.id}")
    expect(page.get_by_role("alert")).to_contain_text("not found")
    page.goto(f"{links.base_url}/api/portal/messages/{their_message.id}")
    expect(page.get_by_role("alert")).to_contain_text("not found")
    assert "theirs" not in page.content()


def test_the_token_reaches_no_log_no_address_and_no_referrer(
    page: Page, links: Links, app_id: str, portal_host: RunningDevhost
) -> None:
    requests: list[Request] = []

    def on_request(request: Request) -> None:
        requests.append(request)

    page.on("request", on_request)
    link = links.url(app_id)
    token = links.token(link)

    page.goto(link)
    expect(page.get_by_role("heading", name="No endpoints yet")).to_be_visible()
    page.get_by_role("link", name="Messages").click()
    expect(page.get_by_role("heading", name="No messages yet")).to_be_visible()

    assert token not in page.url and "#" not in page.url
    api_calls = [request for request in requests if "/api/v1/" in request.url]
    assert api_calls, "the page called the API"
    for request in requests:
        assert token not in request.url
        # What went on the wire (Playwright lists an empty `referer` for a withheld one).
        assert not request.all_headers().get("referer"), request.url
    for request in api_calls:
        assert request.all_headers()["authorization"] == f"Bearer {token}"
    assert token not in portal_host.log_text()


@pytest.fixture
def exhausted(base_url: str, links: Links, app_id: str) -> Iterator[threading.Event]:
    """Keeps the portal's request bucket for `app_id` empty until the returned event is set."""
    stop = threading.Event()
    empty = threading.Event()
    # The portal's customers spend a budget of their own (per application), apart from the tenant's.
    token = links.token(links.url(app_id))

    def drain() -> None:
        with httpx.Client(base_url=base_url, headers={"authorization": f"Bearer {token}"}) as client:
            while not stop.is_set():
                if client.get(f"/api/v1/app/{app_id}").status_code == 429:
                    empty.set()

    worker = threading.Thread(target=drain, daemon=True)
    worker.start()
    assert empty.wait(30), "the bucket never ran dry"
    yield stop
    stop.set()
    worker.join(10)


def test_a_429_is_waited_out_and_said(
    page: Page, links: Links, app_id: str, exhausted: threading.Event
) -> None:
    page.goto(links.url(app_id))
    notice = page.get_by_text("Too many requests right now: trying again in")
    expect(notice).to_be_visible()
    screenshot(page, "throttled")
    exhausted.set()
    expect(page.get_by_role("heading", name="No endpoints yet")).to_be_visible()
    expect(notice).to_have_count(0)
