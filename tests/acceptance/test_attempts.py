"""Attempts and delivery statuses through the svix SDK, from real deliveries to loopback receivers."""

from __future__ import annotations

import time

import pytest
from svix.api import EndpointIn, MessageAttemptListByEndpointOptions, MessageIn, Svix
from svix.exceptions import HttpError
from svix.models import MessageStatus as SvixStatus

from tests.support.receivers import Receiver


def test_attempts_are_listed_by_endpoint_and_by_message_and_fetched_one_by_one(
    svix: Svix, app_id: str, receiver: Receiver
) -> None:
    good = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(f"good-{app_id}", 200)))
    bad = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(f"bad-{app_id}", 500)))
    msg = svix.message.create(app_id, MessageIn(event_type="a", payload={"k": 1}))
    receiver.wait_for(f"good-{app_id}", 1)
    receiver.wait_for(f"bad-{app_id}", 1)
    deadline = time.monotonic() + 10
    while len(svix.message_attempt.list_by_msg(app_id, msg.id).data) < 2:
        assert time.monotonic() < deadline, "the attempts were not recorded"
        time.sleep(0.05)

    (ok,) = svix.message_attempt.list_by_endpoint(app_id, good.id).data
    assert (ok.response_status_code, ok.status_text, ok.msg_id) == (200, "success", msg.id)
    failed = svix.message_attempt.list_by_endpoint(
        app_id, bad.id, MessageAttemptListByEndpointOptions(status=SvixStatus.FAIL, with_content=True)
    ).data
    assert [(a.response_status_code, a.response) for a in failed] == [(500, "answer 500")]
    assert {a.id for a in svix.message_attempt.list_by_msg(app_id, msg.id).data} == {ok.id, failed[0].id}
    one = svix.message_attempt.get(app_id, msg.id, ok.id)
    assert (one.endpoint_id, one.url, one.trigger_type) == (good.id, good.url, 0)

    statuses = {d.id: d for d in svix.message_attempt.list_attempted_destinations(app_id, msg.id).data}
    assert statuses[good.id].status_text == "success" and statuses[good.id].next_attempt is None
    # A failed first attempt with retries left: pending, with the time of the next attempt.
    assert statuses[bad.id].status_text == "pending" and statuses[bad.id].next_attempt is not None
    received = svix.message_attempt.list_attempted_messages(app_id, good.id)
    assert [(m.id, m.status_text) for m in received.data] == [(msg.id, "success")]
    stats = svix.endpoint.get_stats(app_id, good.id)
    assert (stats.success, stats.pending, stats.fail) == (1, 0, 0)


def test_unknown_attempt_is_404(svix: Svix, app_id: str) -> None:
    msg = svix.message.create(app_id, MessageIn(event_type="a", payload={}))
    with pytest.raises(HttpError) as caught:
        svix.message_attempt.get(app_id, msg.id, "atmpt_missing")
    assert caught.value.status_code == 404
