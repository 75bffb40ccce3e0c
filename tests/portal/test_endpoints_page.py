"""A customer manages endpoints in the portal: add, edit, disable and enable, secret, delete.

Cost: about 1-2 s per test (page loads and the API calls they make).
"""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect
from svix.api import EndpointIn, EventTypeIn, MessageIn, Svix

from tests.portal.conftest import Links, screenshot
from tests.support.receivers import Receiver


def test_an_endpoint_added_in_the_portal_receives_the_next_message(
    page: Page, links: Links, app_id: str, svix: Svix, receiver: Receiver
) -> None:
    page.goto(links.url(app_id))
    expect(page.get_by_role("heading", name="No endpoints yet")).to_be_visible()
    screenshot(page, "endpoints-empty")

    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_role("heading", name="Add endpoint")).to_be_visible()
    url = receiver.url("portal-added")
    page.get_by_label("Endpoint URL").fill(url)
    page.get_by_label("Description").fill("Billing system")
    page.get_by_role("button", name="Add header").click()
    page.get_by_label("Header 1 name").fill("X-Team")
    page.get_by_label("Header 1 value").fill("billing")
    page.get_by_role("button", name="Add header").click()
    page.get_by_label("Header 2 name").fill("Authorization")
    page.get_by_label("Header 2 value").fill("Bearer receiver-secret")
    # A credential is typed like a password.
    expect(page.get_by_label("Header 2 value")).to_have_attribute("type", "password")
    screenshot(page, "endpoint-new")
    page.get_by_role("button", name="Create endpoint").click()

    expect(page.get_by_role("heading", name=url)).to_be_visible()
    headers = page.get_by_role("region", name="Custom headers")
    expect(headers).to_contain_text("X-Team")
    expect(headers).to_contain_text("billing")
    expect(headers).to_contain_text("Authorization")
    expect(headers.get_by_label("hidden value")).to_have_count(1)
    assert "receiver-secret" not in page.content()

    svix.message.create(app_id, MessageIn(event_type="invoice.paid", payload={"invoice": "in_1"}))
    (received,) = receiver.wait_for("portal-added", 1)
    assert json.loads(received.body) == {"invoice": "in_1"}
    assert received.headers["X-Team"] == "billing"
    assert received.headers["Authorization"] == "Bearer receiver-secret"

    page.reload()
    attempts = page.get_by_role("region", name="Recent attempts")
    expect(attempts.get_by_text("Succeeded")).to_be_visible()
    expect(page.get_by_test_id("circuit")).to_have_text("Healthy")
    screenshot(page, "endpoint")


def test_an_endpoint_is_edited_disabled_enabled_and_deleted(
    page: Page, links: Links, app_id: str, svix: Svix
) -> None:
    for name in ("invoice.paid", "invoice.failed"):
        svix.event_type.create(EventTypeIn(name=name, description=name))
    endpoint = svix.endpoint.create(app_id, EndpointIn(url="http://127.0.0.1:9/edit-me", description="old"))

    page.goto(links.url(app_id))
    page.get_by_role("link", name=endpoint.url).click()
    page.get_by_role("button", name="Edit").click()
    page.get_by_label("Description").fill("Ledger")
    page.get_by_label("invoice.paid").check()
    page.get_by_label("Channels").fill("eu, us")
    page.get_by_label("Rate limit (messages per second)").fill("25")
    page.get_by_role("button", name="Save changes").click()

    settings = page.get_by_role("region", name="Settings")
    expect(settings).to_contain_text("Ledger")
    expect(settings).to_contain_text("25 per second")
    saved = svix.endpoint.get(app_id, endpoint.id)
    assert (saved.description, saved.event_types, saved.channels, saved.throttle_rate) == (
        "Ledger",
        ["invoice.paid"],
        ["eu", "us"],
        25,
    )

    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_test_id("disabled-state")).to_contain_text("Disabled by hand")
    assert svix.endpoint.get(app_id, endpoint.id).disabled
    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_test_id("disabled-state")).to_have_text("Enabled")
    assert not svix.endpoint.get(app_id, endpoint.id).disabled

    page.get_by_role("button", name="Reveal secret").click()
    expect(page.get_by_test_id("secret")).to_have_text(svix.endpoint.get_secret(app_id, endpoint.id).key)
    before = svix.endpoint.get_secret(app_id, endpoint.id).key
    page.get_by_role("button", name="Rotate secret").click()
    page.get_by_role("button", name="Rotate now").click()
    expect(page.get_by_test_id("secret")).not_to_have_text(before)
    after = svix.endpoint.get_secret(app_id, endpoint.id).key
    assert after != before
    expect(page.get_by_test_id("secret")).to_have_text(after)

    page.get_by_role("button", name="Delete").click()
    page.get_by_role("button", name="Delete endpoint").click()
    expect(page.get_by_role("heading", name="No endpoints yet")).to_be_visible()
    assert svix.endpoint.list(app_id).data == []


def test_an_endpoint_the_ssrf_rules_refuse_is_not_created(
    page: Page, links: Links, app_id: str, svix: Svix
) -> None:
    page.goto(f"{links.url(app_id)}")
    page.get_by_role("button", name="Add endpoint").click()
    # The cloud's instance metadata: never a webhook destination.
    page.get_by_label("Endpoint URL").fill("http://169.254.169.254/latest/meta-data")
    page.get_by_role("button", name="Create endpoint").click()
    expect(page.get_by_role("alert")).to_contain_text("url")
    expect(page.get_by_role("heading", name="Add endpoint")).to_be_visible()
    assert svix.endpoint.list(app_id).data == []
