"""Attempts and delivery statuses through the svix SDK.

Delivery itself is another issue's; these tests append attempts through the same service the
delivery workers use and read them back through the API.
"""

from __future__ import annotations

import pytest
from svix.api import (
    EndpointIn,
    MessageAttemptListByEndpointOptions,
    MessageIn,
    Svix,
)
from svix.exceptions import HttpError
from svix.models import MessageStatus as SvixStatus

from shared.models import MessageStatus
from shared.services.attempts import AttemptResult
from shared.services.registry import Services
from tests.conftest import ACCEPTANCE_TENANT


async def test_attempts_are_listed_by_endpoint_and_by_message_and_fetched_one_by_one(
    svix: Svix, services: Services, app_id: str
) -> None:
    endpoint = svix.endpoint.create(app_id, EndpointIn(url="https://hooks.example.com"))
    msg = svix.message.create(app_id, MessageIn(event_type="a", payload={"k": 1}))
    assert svix.message_attempt.list_by_endpoint(app_id, endpoint.id).data == []

    tenant = ACCEPTANCE_TENANT
    message = await services.messages.get(tenant, app_id, msg.id)
    failed = await services.attempts.record(
        message,
        endpoint.id,
        AttemptResult(
            url=endpoint.url, status_code=500, response="oops", duration_ms=12, status=MessageStatus.FAIL
        ),
        next_attempt=None,
    )
    ok = await services.attempts.record(
        message,
        endpoint.id,
        AttemptResult(
            url=endpoint.url, status_code=200, response="ok", duration_ms=8, status=MessageStatus.SUCCESS
        ),
        next_attempt=None,
    )

    by_endpoint = svix.message_attempt.list_by_endpoint(app_id, endpoint.id)
    assert [a.id for a in by_endpoint.data] == [ok["id"], failed["id"]]
    assert by_endpoint.data[1].response_status_code == 500 and by_endpoint.data[1].status_text == "fail"
    only_failed = svix.message_attempt.list_by_endpoint(
        app_id, endpoint.id, MessageAttemptListByEndpointOptions(status=SvixStatus.FAIL)
    )
    assert [a.id for a in only_failed.data] == [failed["id"]]
    assert [a.id for a in svix.message_attempt.list_by_msg(app_id, msg.id).data] == [ok["id"], failed["id"]]
    one = svix.message_attempt.get(app_id, msg.id, ok["id"])
    assert (one.msg_id, one.endpoint_id, one.response, one.response_duration_ms) == (
        msg.id,
        endpoint.id,
        "ok",
        8,
    )

    destinations = svix.message_attempt.list_attempted_destinations(app_id, msg.id)
    assert [(d.id, d.status_text) for d in destinations.data] == [(endpoint.id, "success")]
    received = svix.message_attempt.list_attempted_messages(app_id, endpoint.id)
    assert [(m.id, m.status_text) for m in received.data] == [(msg.id, "success")]
    stats = svix.endpoint.get_stats(app_id, endpoint.id)
    assert (stats.success, stats.pending) == (1, 0)


def test_unknown_attempt_is_404(svix: Svix, app_id: str) -> None:
    msg = svix.message.create(app_id, MessageIn(event_type="a", payload={}))
    with pytest.raises(HttpError) as caught:
        svix.message_attempt.get(app_id, msg.id, "atmpt_missing")
    assert caught.value.status_code == 404
