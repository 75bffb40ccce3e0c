"""The content-purge workflow (`expunge-all-contents`), replayed by the real Durable SDK from
hand-built histories: what it asks for next, the same on every replay."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.histories import ActionType, History, actions, durable_function

pytestmark = pytest.mark.offline

JOB = {"tenantId": "t1", "taskId": "qtask_1", "cursor": None}
AT = "2026-01-01T00:00:00.0000000Z"


@pytest.fixture(scope="module")
def orchestrator() -> Any:
    from blueprints import messages

    return durable_function(messages.bp, messages.PURGE_WORKFLOW)


def _started() -> History:
    return History("application_purge_content_v1", JOB, instance_id="pur~t1~qtask_1", at=AT)


def _after_batch(result: dict[str, Any]) -> History:
    return (
        _started().activity_scheduled("application_purge_content_batch").episode().activity_completed(result)
    )


def test_a_new_purge_asks_for_its_first_batch_with_retries(orchestrator: Any) -> None:
    (call,) = actions(_started().replay(orchestrator))
    assert (call["actionType"], call["functionName"]) == (
        ActionType.CALL_ACTIVITY_WITH_RETRY,
        "application_purge_content_batch",
    )
    assert json.loads(call["input"]) == JOB and call["retryOptions"]["maxNumberOfAttempts"] == 3


def test_a_batch_that_leaves_messages_continues_as_new_from_its_cursor(orchestrator: Any) -> None:
    restart = actions(_after_batch({"done": False, "cursor": "msg_9"}).replay(orchestrator))[-1]
    assert restart["actionType"] == ActionType.CONTINUE_AS_NEW
    assert json.loads(restart["input"]) == {**JOB, "cursor": "msg_9"}


def test_the_last_batch_finishes_the_workflow(orchestrator: Any) -> None:
    reply = _after_batch({"done": True, "cursor": "msg_9"}).replay(orchestrator)
    assert reply["isDone"] and reply["output"] == "finished"
