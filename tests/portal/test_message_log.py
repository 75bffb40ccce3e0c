"""The complete message log: messages by channel and tag, one found by its id or `eventId`; an
endpoint's attempts by status, status code class and event type, resent from the filtered list;
links from an attempt to its message and from a message to its endpoint.

The API (the `svix` SDK) is the judge of which attempts failed: the receiver answers in arrival
order, which concurrent deliveries do not fix.

Cost: about 3 s (four messages delivered, two resent).
"""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect
from svix.api import EndpointIn, MessageAttemptListByEndpointOptions, MessageIn, MessageStatus, Svix

from tests.portal.conftest import Links, screenshot
from tests.support.receivers import Receiver
from tests.support.waiting import eventually


def test_messages_by_channel_and_tag_and_one_found_by_its_event_id(
    page: Page, links: Links, app_id: str, svix: Svix
) -> None:
    vip_eu = svix.message.create(
        app_id,
        MessageIn(
            event_type="invoice.paid", payload={}, channels=["eu"], tags=["vip"], event_id="order-1001"
        ),
    )
    svix.message.create(app_id, MessageIn(event_type="invoice.paid", payload={}, channels=["us"]))
    eu = svix.message.create(app_id, MessageIn(event_type="user.created", payload={}, channels=["eu"]))
    vip = svix.message.create(app_id, MessageIn(event_type="invoice.failed", payload={}, tags=["vip"]))

    page.goto(links.url(app_id))
    page.get_by_role("link", name="Messages").click()
    rows = page.get_by_role("region", name="Messages").get_by_role("row")
    expect(rows).to_have_count(5)
    page.get_by_label("Channel").fill("eu")
    page.get_by_role("button", name="Apply filters").click()
    expect(rows).to_have_count(3)
    expect(rows.nth(1)).to_contain_text(eu.id)
    expect(rows.nth(2)).to_contain_text("order-1001")
    page.get_by_label("Channel").fill("")
    page.get_by_label("Tag").fill("vip")
    page.get_by_role("button", name="Apply filters").click()
    expect(rows).to_have_count(3)
    expect(rows.nth(1)).to_contain_text(vip.id)
    expect(rows.nth(2)).to_contain_text("order-1001")

    search = page.get_by_label("Message id or event id")
    search.fill("no-such-event")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("alert")).to_have_text("No message has the id or event id “no-such-event”.")
    search.fill("order-1001")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("heading", name="invoice.paid")).to_be_visible()
    assert page.url.endswith(f"/messages/{vip_eu.id}")


def test_an_endpoints_attempts_filtered_resent_and_linked_to_their_messages(
    page: Page, links: Links, app_id: str, svix: Svix, receiver: Receiver
) -> None:
    path = f"log-{uuid.uuid4().hex[:8]}"
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 200, 500, 404, 200)))
    for event_type in ("invoice.paid", "invoice.paid", "user.created", "invoice.failed"):
        svix.message.create(app_id, MessageIn(event_type=event_type, payload={"type": event_type}))
    receiver.wait_for(path, 4)
    # The receiver has answered before Herald records the attempt: wait for all four records.
    eventually(
        lambda: len(svix.message_attempt.list_by_endpoint(app_id, endpoint.id).data) == 4,
        what="four attempts recorded",
    )
    failed = svix.message_attempt.list_by_endpoint(
        app_id, endpoint.id, MessageAttemptListByEndpointOptions(status=MessageStatus.FAIL)
    ).data
    assert sorted(attempt.response_status_code for attempt in failed) == [404, 500]

    page.goto(links.url(app_id))
    page.get_by_role("link", name="Attempts").click()
    rows = page.get_by_test_id("attempt-row")
    expect(rows).to_have_count(4)
    page.get_by_label("Status").select_option("Failed")
    page.get_by_role("button", name="Apply filters").click()
    expect(rows).to_have_count(2)
    for attempt in failed:
        expect(rows.filter(has_text=attempt.msg_id)).to_contain_text(str(attempt.response_status_code))
    screenshot(page, "attempts")

    page.get_by_label("Response code").select_option("4xx")
    page.get_by_role("button", name="Apply filters").click()
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("404")
    page.get_by_label("Response code").select_option("Any code")
    page.get_by_label("Status").select_option("Any status")
    page.get_by_label("Event type").fill("user.created")
    page.get_by_role("button", name="Apply filters").click()
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("user.created")

    page.get_by_label("Event type").fill("")
    page.get_by_label("Status").select_option("Failed")
    page.get_by_role("button", name="Apply filters").click()
    expect(rows).to_have_count(2)
    page.get_by_role("button", name="Resend these 2 messages").click()
    expect(page.get_by_role("status").filter(has_text="Resent")).to_have_text("Resent 2 of 2.")
    resent = receiver.wait_for(path, 6)[4:]
    assert sorted(request.headers["webhook-id"] for request in resent) == sorted(a.msg_id for a in failed)

    rows.filter(has_text=failed[0].msg_id).get_by_role("link").click()
    expect(page.get_by_test_id("attempt")).to_have_count(2)
    page.get_by_role("region", name="Endpoints").get_by_role("link", name=endpoint.url).click()
    expect(page.get_by_role("heading", name=endpoint.url)).to_be_visible()
