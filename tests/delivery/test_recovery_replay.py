"""The recovery workflow, replayed by the real Durable SDK from hand-built histories.

Each test feeds `endpoint_recover_v1` the history the Durable host would hold and checks what it
asks for next; replaying the same history again must ask for exactly the same (determinism).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

JOB = {"tenantId": "t1", "taskId": "qtask_1", "cursor": None}
AT = "2026-01-01T00:00:00.0000000Z"


@pytest.fixture(scope="module")
def orchestrator() -> Any:
    import azure.durable_functions as df

    from blueprints import recovery

    app = df.DFApp()
    app.register_functions(recovery.bp)
    (function,) = [f for f in app.get_functions() if f.get_function_name() == recovery.WORKFLOW]
    return function.get_user_function()


def _event(kind: int, **fields: Any) -> dict[str, Any]:
    return {
        "EventType": kind,
        "EventId": fields.pop("EventId", -1),
        "IsPlayed": False,
        "Timestamp": AT,
        **fields,
    }


def _started() -> list[dict[str, Any]]:
    return [
        _event(12),
        _event(
            0,
            Name="endpoint_recover_v1",
            Version="",
            Input=json.dumps(json.dumps(JOB)),
            OrchestrationInstance={"InstanceId": "rcv~t1~qtask_1", "ExecutionId": "e1"},
            ParentInstance=None,
        ),
    ]


def _batch(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        *_started(),
        _event(4, EventId=0, Name="endpoint_recover_batch", Version="", Input=None),
        _event(13),
        _event(12),
        _event(5, TaskScheduledId=0, Result=json.dumps(result)),
    ]


def _run(orchestrator: Any, history: list[dict[str, Any]]) -> dict[str, Any]:
    context = {
        "history": history,
        "input": json.dumps(JOB),
        "instanceId": "rcv~t1~qtask_1",
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
    # The SDK wraps a call with retries in a compound action; what it calls is inside.
    flat = [action for group in reply["actions"] for action in group]
    return [inner for action in flat for inner in action.get("compoundActions", [action])]


def test_a_new_recovery_asks_for_its_first_batch_with_retries(orchestrator: Any) -> None:
    (call,) = _actions(_run(orchestrator, _started()))
    assert (call["actionType"], call["functionName"]) == (1, "endpoint_recover_batch")
    assert json.loads(call["input"]) == JOB
    assert call["retryOptions"]["maxNumberOfAttempts"] == 3


def test_a_batch_that_leaves_work_continues_as_new_from_its_cursor(orchestrator: Any) -> None:
    reply = _run(orchestrator, _batch({"done": False, "cursor": "msg_9"}))
    restart = _actions(reply)[-1]
    assert restart["actionType"] == 4
    assert json.loads(restart["input"]) == {**JOB, "cursor": "msg_9"}


def test_the_last_batch_finishes_the_workflow(orchestrator: Any) -> None:
    reply = _run(orchestrator, _batch({"done": True, "cursor": "msg_9"}))
    assert reply["isDone"] and reply["output"] == "finished"


def test_a_batch_held_back_waits_on_a_durable_timer_then_continues_from_its_cursor(
    orchestrator: Any,
) -> None:
    # The throttle or the tenant's outbound share held the rest of the batch: the workflow waits
    # here (its activity never sleeps), then goes on from where the batch stopped.
    history = _batch({"done": False, "cursor": "msg_4", "retryIn": 30.0})
    (timer,) = _actions(_run(orchestrator, history))[1:]
    assert timer["actionType"] == 5 and timer["fireAt"].startswith("2026-01-01T00:00:30")
    history += [
        _event(10, EventId=1, FireAt="2026-01-01T00:00:30.000000Z"),
        _event(13),
        _event(12),
        _event(11, TimerId=1, FireAt="2026-01-01T00:00:30.000000Z"),
    ]
    restart = _actions(_run(orchestrator, history))[-1]
    assert restart["actionType"] == 4 and json.loads(restart["input"]) == {**JOB, "cursor": "msg_4"}
