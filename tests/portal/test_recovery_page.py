"""A customer sends messages again from the portal: recovers an endpoint's failed messages, replays
the messages another endpoint missed, bulk-replays by event type; each is a background task whose
progress and result the page shows. Only the application's own tasks are listed.

Cost: about 5 s (three tasks run through their workflows, each read back every second).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Locator, Page, expect
from svix.api import (
    ApplicationIn,
    AppPortalCapability,
    EndpointIn,
    EndpointPatch,
    EventTypeIn,
    MessageAttemptListByEndpointOptions,
    MessageIn,
    MessageStatus,
    RecoverIn,
    Svix,
)

from tests.portal.conftest import Links, screenshot
from tests.support.receivers import Receiver
from tests.support.waiting import eventually


def _task(page: Page, kind: str, endpoint_url: str) -> Locator:
    """The row of the task of that kind the page started for that endpoint."""
    return page.get_by_test_id("task").filter(has_text=kind).filter(has_text=endpoint_url)


def test_recover_replay_missing_and_bulk_replay_run_as_tasks_with_their_progress(
    page: Page, links: Links, app_id: str, svix: Svix, receiver: Receiver
) -> None:
    for name in ("invoice.paid", "user.created"):
        svix.event_type.create(EventTypeIn(name=name, description=name))
    flaky_path, paid_path = f"flaky-{uuid.uuid4().hex[:8]}", f"paid-{uuid.uuid4().hex[:8]}"
    # The first three deliveries fail; every later one succeeds.
    flaky = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(flaky_path, 500, 500, 500, 200)))
    paid_only = svix.endpoint.create(
        app_id, EndpointIn(url=receiver.url(paid_path), event_types=["invoice.paid"], description="Ledger")
    )
    for event_type in ("invoice.paid", "invoice.paid", "user.created"):
        svix.message.create(app_id, MessageIn(event_type=event_type, payload={"type": event_type}))
    receiver.wait_for(flaky_path, 3)
    receiver.wait_for(paid_path, 2)
    # The receiver has answered before Herald records the failure: wait for all three.
    failed = MessageAttemptListByEndpointOptions(status=MessageStatus.FAIL)
    eventually(
        lambda: len(svix.message_attempt.list_by_endpoint(app_id, flaky.id, failed).data) == 3,
        what="three failed attempts recorded",
    )

    page.goto(links.url(app_id))
    page.get_by_role("link", name="Recovery").click()
    expect(page.get_by_role("heading", name="No tasks yet")).to_be_visible()

    page.get_by_label("Endpoint", exact=True).select_option(flaky.id)
    page.get_by_label("Recover failed messages").check()
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("status").filter(has_text="started")).to_have_text(
        f"Recover failed messages started for {flaky.url}."
    )
    recovered = _task(page, "Recover failed messages", flaky.url)
    expect(recovered).to_contain_text("Finished")
    expect(recovered).to_contain_text("3 sent")
    assert len(receiver.wait_for(flaky_path, 6)) == 6

    # The ledger subscribes to user.created too: the one it was never sent is missing.
    svix.endpoint.patch(app_id, paid_only.id, EndpointPatch(event_types=["invoice.paid", "user.created"]))
    page.get_by_label("Endpoint", exact=True).select_option(paid_only.id)
    page.get_by_label("Replay missing messages").check()
    page.get_by_role("button", name="Start").click()
    missing = _task(page, "Replay missing messages", paid_only.url)
    expect(missing).to_contain_text("Finished")
    expect(missing).to_contain_text("1 sent")
    assert len(receiver.wait_for(paid_path, 3)) == 3

    page.get_by_label("Endpoint", exact=True).select_option(flaky.id)
    page.get_by_label("Bulk replay").check()
    page.get_by_label("Event type").fill("user.created")
    page.get_by_role("button", name="Start").click()
    bulk = _task(page, "Bulk replay", flaky.url)
    expect(bulk).to_contain_text("Finished")
    expect(bulk).to_contain_text("1 sent")
    assert len(receiver.wait_for(flaky_path, 7)) == 7
    expect(page.get_by_test_id("task")).to_have_count(3)
    screenshot(page, "recovery")


def test_a_link_lists_only_its_applications_tasks_and_without_create_attempts_starts_none(
    page: Page, links: Links, app_id: str, svix: Svix
) -> None:
    other = svix.application.create(ApplicationIn(name="Other", uid=f"other-{uuid.uuid4().hex[:8]}")).id
    mine = svix.endpoint.create(app_id, EndpointIn(url="http://127.0.0.1:9/mine"))
    theirs = svix.endpoint.create(other, EndpointIn(url="http://127.0.0.1:9/theirs"))
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    svix.endpoint.recover(app_id, mine.id, RecoverIn(since=hour_ago))
    svix.endpoint.recover(other, theirs.id, RecoverIn(since=hour_ago))

    page.goto(links.url(app_id, capabilities=[AppPortalCapability.VIEW_BASE]))
    page.get_by_role("link", name="Recovery").click()
    expect(page.get_by_test_id("task")).to_have_count(1)
    expect(page.get_by_test_id("task")).to_contain_text("Recover failed messages")
    expect(page.get_by_role("button", name="Start")).to_have_count(0)
