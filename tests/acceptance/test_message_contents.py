"""Expunging contents through the svix SDK: an attempt's response, one message's payload, many
messages' payloads at once, and every payload of an application (a background task)."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from svix.api import (
    ApplicationIn,
    BackgroundTaskListOptions,
    BulkExpungeContentsIn,
    EndpointIn,
    MessageAttemptListByMsgOptions,
    MessageGetOptions,
    MessageIn,
    Svix,
)
from svix.exceptions import HttpError, HTTPValidationError
from svix.models import BackgroundTaskStatus, BackgroundTaskType, BulkExpungeStatus

from tests.support.receivers import Receiver


def _payload(svix: Svix, app_id: str, msg_id: str) -> dict[str, object]:
    return svix.message.get(app_id, msg_id, MessageGetOptions(with_content=True)).payload


def _delivered(svix: Svix, app_id: str, receiver: Receiver, path: str, event_id: str) -> str:
    """A message sent to an endpoint of `path`; its one attempt's id once it is recorded."""
    msg = svix.message.create(app_id, MessageIn(event_type="a", payload={"n": 1}, event_id=event_id))
    receiver.wait_for(path, 1)
    deadline = time.monotonic() + 10
    # The 2.x SDK asks for no content unless told: Svix then answers "{}" for every response.
    with_content = MessageAttemptListByMsgOptions(with_content=True)
    while not (attempts := svix.message_attempt.list_by_msg(app_id, msg.id, with_content).data):
        assert time.monotonic() < deadline, "the attempt was not recorded"
        time.sleep(0.05)
    assert attempts[0].response == "answer 200"
    return attempts[0].id


def test_an_attempts_response_is_expunged_by_message_id_or_event_id(
    svix: Svix, app_id: str, receiver: Receiver
) -> None:
    path = f"exp-{uuid.uuid4().hex[:8]}"
    svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 200)))
    first = _delivered(svix, app_id, receiver, path, "evt-first")
    msg_id = svix.message.get(app_id, "evt-first").id

    svix.message_attempt.expunge_content(app_id, msg_id, first)
    assert svix.message_attempt.get(app_id, msg_id, first).response == "EXPUNGED"
    # The rest of the attempt is kept, and the message's payload is untouched.
    assert svix.message_attempt.get(app_id, msg_id, first).response_status_code == 200
    assert _payload(svix, app_id, msg_id) == {"n": 1}

    second = _delivered(svix, app_id, receiver, path, "evt-second")
    svix.message_attempt.expunge_content(app_id, "evt-second", second)
    assert svix.message_attempt.get(app_id, "evt-second", second).response == "EXPUNGED"
    # An attempt of another message, or none, is 404 and changes nothing.
    for msg, attempt in ((msg_id, second), ("evt-second", first), (msg_id, "atmpt_missing")):
        with pytest.raises(HttpError) as caught:
            svix.message_attempt.expunge_content(app_id, msg, attempt)
        assert caught.value.status_code == 404


def test_a_payload_is_expunged_by_event_id_and_cannot_be_resent(svix: Svix, app_id: str) -> None:
    endpoint = svix.endpoint.create(app_id, EndpointIn(url="https://hooks.example.com/in"))
    msg = svix.message.create(app_id, MessageIn(event_type="a", payload={"card": "4242"}, event_id="order-7"))
    svix.message.expunge_content(app_id, "order-7")
    assert _payload(svix, app_id, msg.id) == {}
    with pytest.raises(HttpError) as caught:
        svix.message_attempt.resend(app_id, msg.id, endpoint.id)
    assert caught.value.status_code == 400
    with pytest.raises(HttpError) as missing:
        svix.message.expunge_content(app_id, "order-unknown")
    assert missing.value.status_code == 404


def test_bulk_expunge_answers_per_id_which_messages_it_expunged(svix: Svix, app_id: str) -> None:
    by_id = svix.message.create(app_id, MessageIn(event_type="a", payload={"n": 1}))
    by_event = svix.message.create(app_id, MessageIn(event_type="a", payload={"n": 2}, event_id="bulk-2"))
    kept = svix.message.create(app_id, MessageIn(event_type="a", payload={"n": 3}))
    short = svix.message.create(
        app_id, MessageIn(event_type="a", payload={"n": 4}, payload_retention_hours=1)
    )

    out = svix.message.bulk_expunge_content(
        app_id, BulkExpungeContentsIn(ids=[by_id.id, "bulk-2", short.id, "never-sent"])
    )

    assert out.results == {
        by_id.id: BulkExpungeStatus.EXPUNGED,
        "bulk-2": BulkExpungeStatus.EXPUNGED,
        short.id: BulkExpungeStatus.EXPUNGED,
        "never-sent": BulkExpungeStatus.NOT_FOUND,
    }
    assert [_payload(svix, app_id, m.id) for m in (by_id, by_event, short, kept)] == [{}, {}, {}, {"n": 3}]


def test_bulk_expunge_refuses_more_than_a_hundred_ids_and_an_unknown_application(
    svix: Svix, app_id: str, http: httpx.Client
) -> None:
    msg = svix.message.create(app_id, MessageIn(event_type="a", payload={"n": 1}))
    with pytest.raises(HTTPValidationError) as caught:
        svix.message.bulk_expunge_content(app_id, BulkExpungeContentsIn(ids=[f"m{i}" for i in range(101)]))
    assert caught.value.detail[0].loc == ["body", "ids"]
    refused = http.post(f"/api/v1/app/{app_id}/msg/bulk-expunge", json={"ids": ["not an id!"]})
    assert refused.status_code == 422
    assert _payload(svix, app_id, msg.id) == {"n": 1}
    with pytest.raises(HttpError) as unknown:
        svix.message.bulk_expunge_content(f"nope-{uuid.uuid4().hex[:6]}", BulkExpungeContentsIn(ids=[msg.id]))
    assert unknown.value.status_code == 404


def test_expunge_all_contents_is_a_background_task_that_purges_every_payload(svix: Svix, app_id: str) -> None:
    other_app = svix.application.create(ApplicationIn(name="Other")).id
    untouched = svix.message.create(other_app, MessageIn(event_type="a", payload={"keep": True}))
    ids = [svix.message.create(app_id, MessageIn(event_type="a", payload={"n": n})).id for n in range(3)]
    ids.append(
        svix.message.create(app_id, MessageIn(event_type="a", payload={"n": 3}, payload_retention_hours=5)).id
    )
    svix.message.expunge_content(app_id, ids[0])

    started = svix.message.expunge_all_contents(app_id)
    assert (started.task, started.status) == (BackgroundTaskType.APPLICATION_PURGE_CONTENT, "running")
    deadline = time.monotonic() + 15
    while (task := svix.background_task.get(started.id)).status == BackgroundTaskStatus.RUNNING:
        assert time.monotonic() < deadline, "the purge did not finish"
        time.sleep(0.1)

    # Svix's answer: the payloads it purged (the one expunged before is not counted again).
    assert (task.status, task.task, task.data) == (
        BackgroundTaskStatus.FINISHED,
        BackgroundTaskType.APPLICATION_PURGE_CONTENT,
        {"messagesPurged": 3},
    )
    assert [_payload(svix, app_id, msg_id) for msg_id in ids] == [{}, {}, {}, {}]
    assert [m.id for m in svix.message.list(app_id).data] == list(reversed(ids))
    assert _payload(svix, other_app, untouched.id) == {"keep": True}
    listed = svix.background_task.list(
        BackgroundTaskListOptions(task=BackgroundTaskType.APPLICATION_PURGE_CONTENT)
    ).data
    assert started.id in [t.id for t in listed]


def test_expunge_all_contents_of_an_unknown_application_is_404(svix: Svix) -> None:
    with pytest.raises(HttpError) as caught:
        svix.message.expunge_all_contents(f"nope-{uuid.uuid4().hex[:6]}")
    assert caught.value.status_code == 404
