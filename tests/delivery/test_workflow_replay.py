"""The retry workflow, replayed by the real Durable SDK from hand-built histories.

Each test feeds the orchestrator the history the Durable host would hold and checks the actions
it asks for; replaying the same history again must ask for exactly the same (determinism).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.histories import RETRY_JOB, ActionType, History, actions, durable_function

pytestmark = pytest.mark.offline

# The same job as workflows started before every workflow payload was camelCase recorded it.
SNAKE_CASE_INPUT = {
    "tenant_id": "t1",
    "app_id": "app_1",
    "msg_id": "msg_1",
    "endpoint_id": "ep_1",
    "attempts": 1,
    "retry_in": 5.0,
    "schedule": [5, 300],
    "floor_seconds": 60.0,
}
STARTED = "2026-01-01T00:00:00.0000000Z"


@pytest.fixture(scope="module")
def orchestrator() -> Any:
    from blueprints import retries
    from shared.durable import RETRY_WORKFLOW

    return durable_function(retries.bp, RETRY_WORKFLOW)


def _started(workflow_input: dict[str, Any] = RETRY_JOB) -> History:
    return History("delivery_retries_v1", workflow_input, instance_id="dlv~t1~app_1~msg_1~ep_1", at=STARTED)


def _attempt_due(workflow_input: dict[str, Any] = RETRY_JOB) -> History:
    """The first wait is over: the workflow has asked for the attempt."""
    return (
        _started(workflow_input)
        .timer_created("2026-01-01T00:00:05.000000Z")
        .episode("2026-01-01T00:00:05.1000000Z")
        .timer_fired()
        .activity_scheduled("delivery_attempt")
    )


def _through_first_attempt(reply: dict[str, Any], workflow_input: dict[str, Any] = RETRY_JOB) -> History:
    """The attempt answered `reply`, in an episode that starts at 00:00:06."""
    return _attempt_due(workflow_input).episode("2026-01-01T00:00:06.0000000Z").activity_completed(reply)


def _attempted(retry_in: float | None, status: str, workflow_input: dict[str, Any] = RETRY_JOB) -> History:
    reply = {"status": status, "retryIn": retry_in, "attempted": True}
    return _through_first_attempt(reply, workflow_input)


def test_a_new_workflow_waits_first_with_a_durable_timer(orchestrator: Any) -> None:
    reply = _started().replay(orchestrator)
    (timer,) = actions(reply)
    assert timer["actionType"] == ActionType.CREATE_TIMER
    assert timer["fireAt"].startswith("2026-01-01T00:00:05")
    assert not reply["isDone"]


def test_after_the_timer_the_attempt_is_an_activity_with_the_attempt_count(orchestrator: Any) -> None:
    history = _started().timer_created("2026-01-01T00:00:05.000000Z").episode("2026-01-01T00:00:05.1Z")
    call = actions(history.timer_fired().replay(orchestrator))[-1]
    assert (call["actionType"], call["functionName"]) == (ActionType.CALL_ACTIVITY, "delivery_attempt")
    assert json.loads(call["input"])["attempts"] == 1


def test_a_successful_attempt_ends_the_workflow(orchestrator: Any) -> None:
    reply = _attempted(None, "success").replay(orchestrator)
    assert reply["isDone"] and reply["output"] == "success"


def test_a_failed_attempt_waits_as_long_as_the_activity_says(orchestrator: Any) -> None:
    reply = _attempted(300.0, "pending").replay(orchestrator)
    assert not reply["isDone"]
    timer = actions(reply)[-1]
    # Measured from the orchestrator's replay-safe clock: the episode's start, 00:00:06.
    assert timer["actionType"] == ActionType.CREATE_TIMER
    assert timer["fireAt"].startswith("2026-01-01T00:05:06")


def test_the_last_attempt_ends_the_workflow_failed(orchestrator: Any) -> None:
    reply = _attempted(None, "fail").replay(orchestrator)
    assert reply["isDone"] and reply["output"] == "fail"


def _held_back(retry_in: float) -> History:
    """The first attempt was held back by the endpoint's throttle: a token is reserved for later."""
    return _through_first_attempt(
        {"status": "pending", "retryIn": retry_in, "attempted": False, "reserved": True}
    )


def test_a_throttled_attempt_waits_for_its_token_on_a_durable_timer(orchestrator: Any) -> None:
    timer = actions(_held_back(2.5).replay(orchestrator))[-1]
    assert timer["actionType"] == ActionType.CREATE_TIMER
    assert timer["fireAt"].startswith("2026-01-01T00:00:08.5")


def test_after_the_wait_the_attempt_uses_its_reserved_token_and_the_count_stands(orchestrator: Any) -> None:
    history = (
        _held_back(2.5)
        .timer_created("2026-01-01T00:00:08.500000Z")
        .episode("2026-01-01T00:00:08.6000000Z")
        .timer_fired()
    )
    call = actions(history.replay(orchestrator))[-1]
    assert (call["actionType"], call["functionName"]) == (ActionType.CALL_ACTIVITY, "delivery_attempt")
    step = json.loads(call["input"])
    # Held back is not an attempt; and the next one takes no second token.
    assert (step["attempts"], step["reserved"]) == (1, True)


def test_a_history_from_before_reservations_replays_to_the_same_actions(orchestrator: Any) -> None:
    # Replies recorded before the flag existed lack it: the workflow does what it always did.
    reply = _attempted(300.0, "pending").replay(orchestrator)
    assert [a["actionType"] for a in actions(reply)] == [
        ActionType.CREATE_TIMER,
        ActionType.CALL_ACTIVITY,
        ActionType.CREATE_TIMER,
    ]


def test_a_history_recorded_with_snake_case_input_replays_to_the_same_actions(orchestrator: Any) -> None:
    # Workflows started before payloads were camelCase hold their input in snake_case: after the
    # deploy they replay to what they recorded, and their activities read the job they are handed.
    from shared.services.delivery import RetryJob

    old = actions(_attempted(300.0, "pending", SNAKE_CASE_INPUT).replay(orchestrator))
    new = actions(_attempted(300.0, "pending").replay(orchestrator))
    assert (
        [a["actionType"] for a in old]
        == [a["actionType"] for a in new]
        == [
            ActionType.CREATE_TIMER,
            ActionType.CALL_ACTIVITY,
            ActionType.CREATE_TIMER,
        ]
    )
    assert [a.get("fireAt") for a in old] == [a.get("fireAt") for a in new]
    assert old[1]["functionName"] == new[1]["functionName"] == "delivery_attempt"
    # The activity gets the job as the history recorded it, and reads it as today's job.
    handed = json.loads(old[1]["input"])
    assert handed == {**SNAKE_CASE_INPUT, "attempts": 1, "reserved": False}
    assert RetryJob.from_input(handed) == RetryJob.from_input(json.loads(new[1]["input"]))
