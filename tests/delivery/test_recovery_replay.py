"""The recovery workflow, replayed by the real Durable SDK from hand-built histories.

Each test feeds `endpoint_recover_v1` the history the Durable host would hold and checks what it
asks for next; replaying the same history again must ask for exactly the same (determinism).
"""

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
    from blueprints import recovery

    return durable_function(recovery.bp, recovery.WORKFLOW)


def _started() -> History:
    return History("endpoint_recover_v1", JOB, instance_id="rcv~t1~qtask_1", at=AT)


def _batch(result: dict[str, Any]) -> History:
    return _started().activity_scheduled("endpoint_recover_batch").episode().activity_completed(result)


def test_a_new_recovery_asks_for_its_first_batch_with_retries(orchestrator: Any) -> None:
    (call,) = actions(_started().replay(orchestrator))
    assert (call["actionType"], call["functionName"]) == (
        ActionType.CALL_ACTIVITY_WITH_RETRY,
        "endpoint_recover_batch",
    )
    assert json.loads(call["input"]) == JOB
    assert call["retryOptions"]["maxNumberOfAttempts"] == 3


def test_a_batch_that_leaves_work_continues_as_new_from_its_cursor(orchestrator: Any) -> None:
    restart = actions(_batch({"done": False, "cursor": "msg_9"}).replay(orchestrator))[-1]
    assert restart["actionType"] == ActionType.CONTINUE_AS_NEW
    assert json.loads(restart["input"]) == {**JOB, "cursor": "msg_9"}


def test_the_last_batch_finishes_the_workflow(orchestrator: Any) -> None:
    reply = _batch({"done": True, "cursor": "msg_9"}).replay(orchestrator)
    assert reply["isDone"] and reply["output"] == "finished"


def test_a_batch_held_back_waits_on_a_durable_timer_then_continues_from_its_cursor(
    orchestrator: Any,
) -> None:
    # The throttle or the tenant's outbound share held the rest of the batch: the workflow waits
    # here (its activity never sleeps), then goes on from where the batch stopped.
    history = _batch({"done": False, "cursor": "msg_4", "retryIn": 30.0})
    (timer,) = actions(history.replay(orchestrator))[1:]
    assert timer["actionType"] == ActionType.CREATE_TIMER
    assert timer["fireAt"].startswith("2026-01-01T00:00:30")
    history.timer_created("2026-01-01T00:00:30.000000Z").episode().timer_fired()
    restart = actions(history.replay(orchestrator))[-1]
    assert restart["actionType"] == ActionType.CONTINUE_AS_NEW
    assert json.loads(restart["input"]) == {**JOB, "cursor": "msg_4"}
