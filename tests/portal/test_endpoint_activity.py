"""An endpoint's activity as charts: attempts per day over the retention window (attempt stats) and
the response times of its recent attempts, each with a table of the same numbers.

Cost: about 2 s (four messages delivered; the 90-day window is some 270 small counts).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from playwright.sync_api import Page, expect
from svix.api import EndpointIn, MessageAttemptOut, MessageIn, Svix

from shared.settings import HeraldSettings
from tests.portal.conftest import Links, screenshot
from tests.support.receivers import Receiver
from tests.support.waiting import eventually

RETENTION_DAYS = HeraldSettings().retention_days  # the portal's Herald keeps the default


def test_attempts_per_day_and_recent_response_times_are_charted_with_their_tables(
    page: Page, links: Links, app_id: str, svix: Svix, receiver: Receiver
) -> None:
    path = f"activity-{uuid.uuid4().hex[:8]}"
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 200, 200, 500, 200)))
    for n in range(4):
        svix.message.create(app_id, MessageIn(event_type="invoice.paid", payload={"n": n}))
    receiver.wait_for(path, 4)

    # The receiver has answered before Herald records the attempt: wait for all four records.
    def all_four() -> list[MessageAttemptOut] | None:
        data = svix.message_attempt.list_by_endpoint(app_id, endpoint.id).data
        return data if len(data) == 4 else None

    attempts = eventually(all_four, what="four attempts recorded")
    durations = sorted(attempt.response_duration_ms for attempt in attempts)

    page.goto(links.url(app_id))
    page.get_by_role("link", name=endpoint.url).click()
    daily = page.get_by_test_id("daily-chart")
    expect(daily).to_contain_text(f"Last {RETENTION_DAYS} days (UTC): 3 succeeded, 1 failed, 0 canceled.")
    expect(daily.get_by_role("img")).to_have_attribute(
        "aria-label", f"Attempts per day over the last {RETENTION_DAYS} days: 3 succeeded, 1 failed."
    )
    # One bar per day with attempts: today's, of two parts (successes under failures).
    expect(daily.locator("rect")).to_have_count(2)
    screenshot(page, "endpoint-activity")
    daily.get_by_text("Show the numbers as a table").click()
    today = datetime.now(UTC).date().isoformat()
    expect(daily.get_by_role("row", name=today)).to_have_text(f"{today}310")

    latency = page.get_by_test_id("latency-chart")
    expect(latency).to_contain_text(
        f"The last 4 attempts: median {durations[1]} ms, slowest {durations[3]} ms."
    )
    # One bar per attempt, even one answered on loopback in under a millisecond (0 ms).
    expect(latency.locator("rect")).to_have_count(4)
    latency.get_by_text("Show the numbers as a table").click()
    expect(latency.get_by_role("region").get_by_role("row")).to_have_count(5)

    page.get_by_label("Window").select_option("7")
    expect(daily).to_contain_text("Last 7 days (UTC): 3 succeeded, 1 failed, 0 canceled.")
