"""The retry workflow, replayed by the real Durable SDK from hand-built histories.

Each test feeds the orchestrator the history the Durable host would hold and checks the actions
it asks for; replaying the same history again must ask for exactly the same (determinism).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

ROOT_INPUT = {
    "tenantId": "t1",
    "appId": "app_1",
    "msgId": "msg_1",
    "endpointId": "ep_1",
    "attempts": 1,
    "retryIn": 5.0,
    "schedule": [5, 300],
    "floorSeconds": 60.0,
}
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


@pytest.fixture(scope="module")
def orchestrator() -> Any:
    import azure.durable_functions as df

    from blueprints import retries
    from shared.durable import RETRY_WORKFLOW

    app = df.DFApp()
    app.register_functions(retries.bp)
    (function,) = [f for f in app.get_functions() if f.get_function_name() == RETRY_WORKFLOW]
    return function.get_user_function()


def _event(kind: int, at: str, **fields: Any) -> dict[str, Any]:
    return {
        "EventType": kind,
        "EventId": fields.pop("EventId", -1),
        "IsPlayed": False,
        "Timestamp": at,
        **fields,
    }


def _started(at: str, workflow_input: dict[str, Any] = ROOT_INPUT) -> list[dict[str, Any]]:
    return [
        _event(12, at),
        _event(
            0,
            at,
            Name="delivery_retries_v1",
            Version="",
            Input=json.dumps(json.dumps(workflow_input)),
            OrchestrationInstance={"InstanceId": "dlv~t1~app_1~msg_1~ep_1", "ExecutionId": "e1"},
            ParentInstance=None,
        ),
    ]


def _run(
    orchestrator: Any, history: list[dict[str, Any]], workflow_input: dict[str, Any] = ROOT_INPUT
) -> dict[str, Any]:
    context = {
        "history": history,
        "input": json.dumps(workflow_input),
        "instanceId": "dlv~t1~app_1~msg_1~ep_1",
        "isReplaying": False,
        "parentInstanceId": None,
        "upperSchemaVersion": 1,
        "upperSchemaVersionNew": 2,
    }
    reply: dict[str, Any] = json.loads(orchestrator(json.dumps(context)))
    again: dict[str, Any] = json.loads(orchestrator(json.dumps(context)))
    assert again == reply, "replaying the same history must give the same answer"
    return reply


def _actions(reply: dict[str, Any]) -> list[dict[str, Any]]:
    return [action for group in reply["actions"] for action in group]


def test_a_new_workflow_waits_first_with_a_durable_timer(orchestrator: Any) -> None:
    reply = _run(orchestrator, _started("2026-01-01T00:00:00.0000000Z"))
    (timer,) = _actions(reply)
    assert timer["actionType"] == 5 and timer["fireAt"].startswith("2026-01-01T00:00:05")
    assert not reply["isDone"]


def _through_first_attempt(
    retry_in: float | None, status: str, workflow_input: dict[str, Any] = ROOT_INPUT
) -> list[dict[str, Any]]:
    history = _started("2026-01-01T00:00:00.0000000Z", workflow_input)
    history += [
        _event(10, "2026-01-01T00:00:00.1000000Z", EventId=0, FireAt="2026-01-01T00:00:05.000000Z"),
        _event(13, "2026-01-01T00:00:00.2000000Z"),
        _event(12, "2026-01-01T00:00:05.1000000Z"),
        _event(11, "2026-01-01T00:00:05.1000000Z", TimerId=0, FireAt="2026-01-01T00:00:05.000000Z"),
        _event(4, "2026-01-01T00:00:05.2000000Z", EventId=1, Name="delivery_attempt", Version="", Input=None),
        _event(13, "2026-01-01T00:00:05.3000000Z"),
        _event(12, "2026-01-01T00:00:06.0000000Z"),
        _event(
            5,
            "2026-01-01T00:00:06.0000000Z",
            TaskScheduledId=1,
            Result=json.dumps({"status": status, "retryIn": retry_in, "attempted": True}),
        ),
    ]
    return history


def test_after_the_timer_the_attempt_is_an_activity_with_the_attempt_count(orchestrator: Any) -> None:
    history = _through_first_attempt(None, "success")[:-2]
    reply = _run(orchestrator, history)
    actions = _actions(reply)
    assert actions[-1]["actionType"] == 0 and actions[-1]["functionName"] == "delivery_attempt"
    assert json.loads(actions[-1]["input"])["attempts"] == 1


def test_a_successful_attempt_ends_the_workflow(orchestrator: Any) -> None:
    reply = _run(orchestrator, _through_first_attempt(None, "success"))
    assert reply["isDone"] and reply["output"] == "success"


def test_a_failed_attempt_waits_as_long_as_the_activity_says(orchestrator: Any) -> None:
    reply = _run(orchestrator, _through_first_attempt(300.0, "pending"))
    assert not reply["isDone"]
    timer = _actions(reply)[-1]
    # Measured from the orchestrator's replay-safe clock: the episode's start, 00:00:06.
    assert timer["actionType"] == 5 and timer["fireAt"].startswith("2026-01-01T00:05:06")


def test_the_last_attempt_ends_the_workflow_failed(orchestrator: Any) -> None:
    reply = _run(orchestrator, _through_first_attempt(None, "fail"))
    assert reply["isDone"] and reply["output"] == "fail"


def _held_back(retry_in: float) -> list[dict[str, Any]]:
    """The first attempt was held back by the endpoint's throttle: a token is reserved for later."""
    history = _through_first_attempt(retry_in, "pending")
    reply = {"status": "pending", "retryIn": retry_in, "attempted": False, "reserved": True}
    history[-1]["Result"] = json.dumps(reply)
    return history


def test_a_throttled_attempt_waits_for_its_token_on_a_durable_timer(orchestrator: Any) -> None:
    reply = _run(orchestrator, _held_back(2.5))
    timer = _actions(reply)[-1]
    assert timer["actionType"] == 5 and timer["fireAt"].startswith("2026-01-01T00:00:08.5")


def test_after_the_wait_the_attempt_uses_its_reserved_token_and_the_count_stands(orchestrator: Any) -> None:
    history = [
        *_held_back(2.5),
        _event(10, "2026-01-01T00:00:06.1000000Z", EventId=2, FireAt="2026-01-01T00:00:08.500000Z"),
        _event(13, "2026-01-01T00:00:06.2000000Z"),
        _event(12, "2026-01-01T00:00:08.6000000Z"),
        _event(11, "2026-01-01T00:00:08.6000000Z", TimerId=2, FireAt="2026-01-01T00:00:08.500000Z"),
    ]
    call = _actions(_run(orchestrator, history))[-1]
    assert call["actionType"] == 0 and call["functionName"] == "delivery_attempt"
    step = json.loads(call["input"])
    # Held back is not an attempt; and the next one takes no second token.
    assert (step["attempts"], step["reserved"]) == (1, True)


def test_a_history_from_before_reservations_replays_to_the_same_actions(orchestrator: Any) -> None:
    # Replies recorded before the flag existed lack it: the workflow does what it always did.
    reply = _run(orchestrator, _through_first_attempt(300.0, "pending"))
    assert [a["actionType"] for a in _actions(reply)] == [5, 0, 5]


def test_a_history_recorded_with_snake_case_input_replays_to_the_same_actions(orchestrator: Any) -> None:
    # Workflows started before payloads were camelCase hold their input in snake_case: after the
    # deploy they replay to what they recorded, and their activities read the job they are handed.
    from shared.services.delivery import RetryJob

    recorded = _through_first_attempt(300.0, "pending", SNAKE_CASE_INPUT)
    old = _actions(_run(orchestrator, recorded, SNAKE_CASE_INPUT))
    new = _actions(_run(orchestrator, _through_first_attempt(300.0, "pending")))
    assert [a["actionType"] for a in old] == [a["actionType"] for a in new] == [5, 0, 5]
    assert [a.get("fireAt") for a in old] == [a.get("fireAt") for a in new]
    assert old[1]["functionName"] == new[1]["functionName"] == "delivery_attempt"
    # The activity gets the job as the history recorded it, and reads it as today's job.
    handed = json.loads(old[1]["input"])
    assert handed == {**SNAKE_CASE_INPUT, "attempts": 1, "reserved": False}
    assert RetryJob.from_input(handed) == RetryJob.from_input(json.loads(new[1]["input"]))
