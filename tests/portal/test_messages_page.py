"""A customer reads the message log: filters, pages, a message's payload and attempts, a resend.

Cost: about 2-3 s per test (the paging test makes 22 messages through the API first).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect
from svix.api import EndpointIn, MessageIn, Svix

from tests.portal.conftest import MARKUP_RESPONSE, Links, Site, screenshot
from tests.support.receivers import Receiver

PAGE_SIZE = 20  # portal/src/pages/messages/MessageList.tsx


def test_a_failed_message_shows_its_attempts_and_can_be_resent(
    page: Page, links: Links, app_id: str, svix: Svix, receiver: Receiver
) -> None:
    url = receiver.url("flaky", 500, 200)
    svix.endpoint.create(app_id, EndpointIn(url=url))
    message = svix.message.create(app_id, MessageIn(event_type="invoice.paid", payload={"invoice": "in_7"}))
    receiver.wait_for("flaky", 1)

    page.goto(links.url(app_id))
    page.get_by_role("link", name="Messages").click()
    expect(page.get_by_role("heading", name="Messages")).to_be_visible()
    page.get_by_role("link", name=message.id).click()
    expect(page.get_by_role("heading", name="invoice.paid")).to_be_visible()
    expect(page.get_by_role("region", name="Payload")).to_contain_text('"invoice": "in_7"')

    attempts = page.get_by_test_id("attempt")
    expect(attempts).to_have_count(1)
    expect(attempts.first).to_contain_text("Failed")
    expect(attempts.first).to_contain_text("Code 500")
    expect(attempts.first).to_contain_text("Trigger Scheduled")
    expect(attempts.first).to_contain_text(url)
    attempts.first.get_by_text("Response body").click()
    expect(attempts.first.get_by_label("Response body")).to_have_text("answer 500")
    screenshot(page, "message-failed")

    page.get_by_role("button", name=f"Resend to {url}").click()
    expect(page.get_by_role("status").filter(has_text="Resent")).to_have_text(f"Resent to {url}.")
    expect(attempts).to_have_count(2)
    # Newest first: the manual attempt, which the receiver now accepts.
    expect(attempts.first).to_contain_text("Succeeded")
    expect(attempts.first).to_contain_text("Code 200")
    expect(attempts.first).to_contain_text("Trigger Manual")
    assert len(receiver.requests("flaky")) == 2
    screenshot(page, "message")


def test_messages_are_listed_by_event_type_and_date_a_page_at_a_time(
    page: Page, links: Links, app_id: str, svix: Svix
) -> None:
    paid = [
        svix.message.create(app_id, MessageIn(event_type="invoice.paid", payload={"n": n})).id
        for n in range(PAGE_SIZE + 1)
    ]
    failed = svix.message.create(app_id, MessageIn(event_type="invoice.failed", payload={})).id

    page.goto(links.url(app_id))
    page.get_by_role("link", name="Messages").click()
    rows = page.get_by_role("region", name="Messages").get_by_role("row")
    expect(rows).to_have_count(PAGE_SIZE + 1)  # the header row and one page
    # Newest first.
    expect(rows.nth(1)).to_contain_text(failed)
    screenshot(page, "messages")
    page.get_by_role("button", name="Next page").click()
    expect(rows).to_have_count(2 + 1)
    expect(rows.nth(2)).to_contain_text(paid[0])
    page.get_by_role("button", name="Previous page").click()
    expect(rows).to_have_count(PAGE_SIZE + 1)
    expect(rows.nth(1)).to_contain_text(failed)

    page.get_by_label("Event type").fill("invoice.failed")
    page.get_by_role("button", name="Apply filters").click()
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text(failed)

    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    page.get_by_label("To").fill(yesterday)
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("heading", name="No messages match these filters")).to_be_visible()
    page.get_by_label("To").fill("")
    page.get_by_label("From").fill(yesterday)
    page.get_by_role("button", name="Apply filters").click()
    expect(rows).to_have_count(2)


def test_payloads_and_responses_with_markup_stay_text(
    page: Page, links: Links, app_id: str, svix: Svix, site: Site
) -> None:
    markup = "<img src=\"x\" onerror=\"window.__xss = 'payload'\"><script>window.__xss = 'script'</script>"
    svix.endpoint.create(
        app_id, EndpointIn(url=f"{site.origin}{site.hook_path}", description="<b onmouseover=alert(1)>x</b>")
    )
    message = svix.message.create(app_id, MessageIn(event_type="note.added", payload={"note": markup}))

    page.goto(links.url(app_id))
    expect(page.get_by_text("<b onmouseover=alert(1)>x</b>")).to_be_visible()
    page.goto(f"{links.base_url}/api/portal/messages/{message.id}")
    expect(page.get_by_role("heading", name="note.added")).to_be_visible()
    expect(page.get_by_role("region", name="Payload")).to_contain_text(markup.replace('"', '\\"'))
    attempt = page.get_by_test_id("attempt")
    expect(attempt).to_have_count(1)
    attempt.get_by_text("Response body").click()
    expect(attempt.get_by_label("Response body")).to_have_text(MARKUP_RESPONSE)

    assert page.evaluate("window.__xss") is None
    # Nothing the customer's data holds became an element.
    assert page.locator("main img, main script, main b").count() == 0
