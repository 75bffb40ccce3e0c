"""A customer reads the event catalogue: groups, search, schemas and examples; subscribes an
endpoint to a type from it and sends an example of a type, as the link's capabilities allow.

Cost: about 3 s (one link with every capability, one read-only link, one example delivered).
"""

from __future__ import annotations

import json
import uuid

from playwright.sync_api import Page, expect
from svix.api import AppPortalCapability, EndpointIn, EventTypeIn, Svix

from tests.portal.conftest import Links, screenshot
from tests.support.receivers import Receiver

PAID_EXAMPLE = {"invoice": "in_42", "amount": 1200, "currency": "EUR"}
PAID_SCHEMA = {
    "type": "object",
    "description": "The invoice that was paid.",
    "properties": {
        "invoice": {"type": "string", "description": "The invoice's id"},
        "amount": {"type": "integer", "description": "In cents"},
        "currency": {"type": "string", "enum": ["EUR", "USD"]},
    },
    "required": ["invoice", "amount"],
    "examples": [PAID_EXAMPLE],
}


def _catalogue(svix: Svix) -> None:
    svix.event_type.create(
        EventTypeIn(
            name="invoice.paid",
            description="An invoice was paid in full",
            group_name="billing",
            schemas={"1": PAID_SCHEMA},
        )
    )
    svix.event_type.create(
        EventTypeIn(name="invoice.failed", description="A payment attempt failed", group_name="billing")
    )
    svix.event_type.create(EventTypeIn(name="user.created", description="A user signed up", deprecated=True))
    svix.event_type.create(EventTypeIn(name="legacy.thing", description="Gone", archived=True))


def test_the_catalogue_is_grouped_searchable_and_lets_an_endpoint_subscribe_and_receive_an_example(
    page: Page, links: Links, app_id: str, svix: Svix, receiver: Receiver
) -> None:
    _catalogue(svix)
    hook = f"catalogue-{uuid.uuid4().hex[:8]}"
    filtered = svix.endpoint.create(
        app_id, EndpointIn(url=receiver.url(hook), description="Users only", event_types=["user.created"])
    )
    everything = svix.endpoint.create(app_id, EndpointIn(url="http://127.0.0.1:9/everything"))

    page.goto(links.url(app_id))
    page.get_by_role("link", name="Event types").click()
    billing = page.get_by_role("region", name="billing")
    expect(billing.get_by_role("link")).to_have_text(["invoice.failed", "invoice.paid"])
    other = page.get_by_role("region", name="Other")
    expect(other).to_contain_text("user.created")
    expect(other).to_contain_text("Deprecated")
    expect(page.get_by_text("legacy.thing")).to_have_count(0)
    expect(page.get_by_role("status").filter(has_text="event types")).to_have_text("3 event types")
    screenshot(page, "event-types")

    page.get_by_label("Search event types").fill("paid in full")
    expect(page.get_by_role("main").get_by_role("link")).to_have_text(["invoice.paid"])
    page.get_by_label("Search event types").fill("nothing like it")
    expect(page.get_by_role("heading", name="No event type matches this search")).to_be_visible()
    page.get_by_label("Search event types").fill("billing")
    page.get_by_role("link", name="invoice.paid").click()

    expect(page.get_by_role("heading", name="invoice.paid")).to_be_visible()
    fields = page.get_by_role("table", name="Fields of version 1")
    expect(fields.get_by_role("row")).to_have_count(4)
    expect(fields.get_by_role("row", name="invoice")).to_contain_text("(required)")
    expect(fields.get_by_role("row", name="currency")).to_contain_text('one of "EUR", "USD"')
    expect(page.get_by_label("Example 1 of version 1")).to_contain_text('"invoice": "in_42"')
    receiving = page.get_by_role("list", name="Endpoints receiving this event type")
    expect(receiving.get_by_role("listitem")).to_have_text([f"{everything.url} (every event type)"])

    page.get_by_label("Endpoint to subscribe").select_option(filtered.id)
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("status").filter(has_text="now receives")).to_have_text(
        f"Users only ({filtered.url}) now receives invoice.paid."
    )
    assert set(svix.endpoint.get(app_id, filtered.id).event_types or []) == {"user.created", "invoice.paid"}
    expect(receiving.get_by_role("listitem")).to_have_count(2)

    page.get_by_label("Send to").select_option(filtered.id)
    page.get_by_role("button", name="Send example").click()
    sent = page.get_by_role("status").filter(has_text="Sent as message")
    expect(sent).to_be_visible()
    (delivered,) = receiver.wait_for(hook, 1)
    assert json.loads(delivered.body) == PAID_EXAMPLE
    screenshot(page, "event-type")
    sent.get_by_role("link").click()
    expect(page.get_by_role("region", name="Payload")).to_contain_text('"amount": 1200')


def test_a_read_only_link_shows_the_catalogue_without_its_actions(
    page: Page, links: Links, app_id: str, svix: Svix
) -> None:
    _catalogue(svix)
    svix.endpoint.create(app_id, EndpointIn(url="http://127.0.0.1:9/users", event_types=["user.created"]))

    page.goto(links.url(app_id, capabilities=[AppPortalCapability.VIEW_BASE]))
    page.get_by_role("link", name="Event types").click()
    page.get_by_role("link", name="invoice.paid").click()
    expect(page.get_by_label("Example 1 of version 1")).to_be_visible()
    expect(page.get_by_text("No endpoint receives it yet.")).to_be_visible()
    for name in ("Subscribe", "Send example"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
