"""The portal in a SaaS's own page (an iframe, where `frame-ancestors` allows it), on a narrow
screen, and by keyboard.

Cost: about 1 s per test.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect
from svix.api import EndpointIn, MessageIn, Svix

from tests.portal.conftest import BrowserLog, Links, Site, screenshot


def test_the_portal_fits_an_iframe_on_an_allowed_origin(
    page: Page, links: Links, app_id: str, site: Site
) -> None:
    page.goto(site.embed_url(links.url(app_id)))
    portal = page.frame_locator("iframe[title='Webhooks portal']")
    expect(portal.get_by_role("heading", name="No endpoints yet")).to_be_visible()
    portal.get_by_role("button", name="Add endpoint").click()
    expect(portal.get_by_label("Endpoint URL")).to_be_visible()
    screenshot(page, "embedded")


def test_no_other_origin_may_frame_the_portal(
    page: Page, links: Links, app_id: str, site: Site, console: BrowserLog
) -> None:
    # Chromium reports the refusal on the embedding page's console, naming the directive.
    with page.expect_console_message(lambda message: "frame-ancestors" in message.text):
        page.goto(site.embed_url(links.url(app_id), origin=site.other_origin))
    expect(page.get_by_role("heading", name="Acme: webhooks")).to_be_visible()
    portal = page.frame_locator("iframe[title='Webhooks portal']")
    expect(portal.get_by_role("heading", name="Endpoints")).to_have_count(0)
    # That violation is this test's point, not a fault of the portal's own page.
    console.errors[:] = [text for text in console.errors if "frame-ancestors" not in text]


def test_a_narrow_screen_shows_one_column_without_sideways_scrolling(
    page: Page, links: Links, app_id: str, svix: Svix
) -> None:
    endpoint = svix.endpoint.create(
        app_id, EndpointIn(url="http://127.0.0.1:9/a-rather-long-path/that/would/overflow/a/phone/screen")
    )
    message = svix.message.create(app_id, MessageIn(event_type="invoice.paid", payload={"long": "x" * 300}))
    page.set_viewport_size({"width": 360, "height": 740})

    def fits() -> bool:
        return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))

    page.goto(links.url(app_id))
    expect(page.get_by_role("link", name=endpoint.url)).to_be_visible()
    assert fits()
    screenshot(page, "narrow-endpoints")
    page.get_by_role("link", name=endpoint.url).click()
    expect(page.get_by_role("heading", name="Health")).to_be_visible()
    assert fits()
    page.get_by_role("button", name="Edit").click()
    expect(page.get_by_label("Endpoint URL")).to_be_visible()
    assert fits()
    page.goto(f"{links.base_url}/api/portal/messages/{message.id}")
    expect(page.get_by_test_id("attempt")).to_have_count(1)
    assert fits()
    screenshot(page, "narrow-message")


def test_the_portal_works_by_keyboard(page: Page, links: Links, app_id: str) -> None:
    page.goto(links.url(app_id))
    expect(page.get_by_role("heading", name="No endpoints yet")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    # The first control of the page: "Add endpoint", reached and used without a mouse.
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Add endpoint")).to_be_focused()
    page.keyboard.press("Enter")
    # A new page moves the focus to its title.
    expect(page.get_by_role("heading", name="Add endpoint")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Endpoint URL")).to_be_focused()
