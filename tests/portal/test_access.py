"""What a link allows: read-only links show no action, expired or refused ones say so, another
application's data never shows, the token stays out of logs, addresses and referrers, and a 429
is waited out, saying so.

Cost: about 1 s per test; the 429 test about 3 s (it waits out Herald's Retry-After).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from playwright.sync_api import Page, Request, expect
from svix.api import ApplicationIn, EndpointIn, MessageIn, Svix

from devhost.testing import RunningDevhost
from tests.conftest import AUDIENCE, ISSUER, KID, Minter
from tests.portal.conftest import Links, screenshot

ACTIONS = ["Add endpoint", "Edit", "Disable", "Enable", "Delete", "Reveal secret", "Rotate secret", "Resend"]


def _no_actions(page: Page) -> None:
    for name in ACTIONS:
        expect(page.get_by_role("button", name=name)).to_have_count(0)


def test_a_read_only_link_hides_every_action(page: Page, links: Links, app_id: str, svix: Svix) -> None:
    endpoint = svix.endpoint.create(app_id, EndpointIn(url="http://127.0.0.1:9/read-only"))
    message = svix.message.create(app_id, MessageIn(event_type="invoice.paid", payload={}))

    page.goto(links.url(app_id, read_only=True))
    expect(page.get_by_text("Read-only")).to_be_visible()
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


def test_an_expired_link_says_so(page: Page, links: Links, app_id: str) -> None:
    page.goto(links.expired(app_id))
    expect(page.get_by_role("heading", name="This link has expired")).to_be_visible()
    expect(page.get_by_text("Ask for a new one.")).to_be_visible()
    screenshot(page, "expired")


def test_a_link_herald_refuses_says_it_expired_and_is_forgotten(
    page: Page, links: Links, app_id: str
) -> None:
    # A token Herald did not issue (another key), not expired by its claims: only Herald can tell.
    now = int(time.time())
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "azp": links.tenant,
        "scp": "herald.read",
        "iat": now,
        "exp": now + 600,
    }
    token = jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": KID})
    page.goto(f"{links.base_url}/api/portal/#token={token}&app={app_id}")
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

    page.goto(links.url(app_id))
    expect(page.get_by_role("link", name=ours.url)).to_be_visible()
    expect(page.get_by_role("listitem")).to_have_count(1 + 2)  # one endpoint, two navigation entries
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
    token = link.split("#token=", 1)[1].split("&", 1)[0]

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
def exhausted(base_url: str, mint: Minter, tenant: str) -> Iterator[threading.Event]:
    """Keeps the tenant's request bucket empty until the returned event is set."""
    stop = threading.Event()
    empty = threading.Event()

    def drain() -> None:
        with httpx.Client(base_url=base_url, headers={"authorization": f"Bearer {mint(tenant)}"}) as client:
            while not stop.is_set():
                if client.get("/api/v1/app/app_none").status_code == 429:
                    empty.set()

    worker = threading.Thread(target=drain, daemon=True)
    worker.start()
    assert empty.wait(30), "the tenant's bucket never ran dry"
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
