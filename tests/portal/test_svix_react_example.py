"""The `svix-react` example (portal/examples/svix-react/): a page of a SaaS's own, built with
svix-react's <SvixProvider> and hooks, reads the customer's data from Herald with the portal token.

Cost: about 1 s (one page, three lists).
"""

from __future__ import annotations

from playwright.sync_api import Page, expect
from svix.api import ApplicationIn, AppPortalCapability, EndpointIn, EventTypeIn, MessageIn, Svix

from tests.portal.conftest import Links, screenshot


def test_the_svix_react_example_lists_the_applications_endpoints_messages_and_event_types(
    page: Page, links: Links, app_id: str, svix: Svix
) -> None:
    svix.event_type.create(EventTypeIn(name="invoice.paid", description="An invoice was paid"))
    endpoint = svix.endpoint.create(app_id, EndpointIn(url="http://127.0.0.1:9/example"))
    svix.message.create(
        app_id, MessageIn(event_type="invoice.paid", payload={}, event_id="order-7", channels=["eu"])
    )
    other = svix.application.create(ApplicationIn(name="Someone else")).id
    svix.endpoint.create(other, EndpointIn(url="http://127.0.0.1:9/someone-else"))

    token = links.token(links.url(app_id, capabilities=[AppPortalCapability.VIEW_BASE]))
    page.goto(f"{links.base_url}/api/portal/examples/svix-react/index.html#token={token}")
    expect(page.get_by_role("region", name="Endpoints").get_by_role("listitem")).to_have_text([endpoint.url])
    messages = page.get_by_role("region", name="Messages").get_by_role("listitem")
    expect(messages).to_have_count(1)
    expect(messages).to_contain_text("invoice.paid: order-7")
    expect(page.get_by_role("region", name="Event types")).to_contain_text("invoice.paid An invoice was paid")
    # The token is out of the address at once.
    assert "token" not in page.url
    expect(page.get_by_text("someone-else")).to_have_count(0)
    screenshot(page, "svix-react-example")
