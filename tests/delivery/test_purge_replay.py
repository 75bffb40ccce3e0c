"""The content-purge workflow (`expunge-all-contents`), replayed by the real Durable SDK from
hand-built histories: what it asks for next, the same on every replay."""

from __future__ import annotations

import json
from typing import Any

import pytest

JOB = {"tenantId": "t1", "taskId": "qtask_1", "cursor": None}
AT = "2026-01-01T00:00:00.0000000Z"
INSTANCE = "pur~t1~qtask_1"


@pytest.fixture(scope="module")
def orchestrator() -> Any:
    import azure.durable_functions as df

    from blueprints import messages

    app = df.DFApp()
    app.register_functions(messages.bp)
    (function,) = [f for f in app.get_functions() if f.get_function_name() == messages.PURGE_WORKFLOW]
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
            Name="application_purge_content_v1",
            Version="",
            Input=json.dumps(json.dumps(JOB)),
            OrchestrationInstance={"InstanceId": INSTANCE, "ExecutionId": "e1"},
            ParentInstance=None,
        ),
    ]


def _after_batch(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        *_started(),
        _event(4, EventId=0, Name="application_purge_content_batch", Version="", Input=None),
        _event(13),
        _event(12),
        _event(5, TaskScheduledId=0, Result=json.dumps(result)),
    ]


def _run(orchestrator: Any, history: list[dict[str, Any]]) -> dict[str, Any]:
    context = {
        "history": history,
        "input": json.dumps(JOB),
        "instanceId": INSTANCE,
        "isReplaying": False,
        "parentInstanceId": None,
        "upperSchemaVersion": 1,
        "upperSchemaVersionNew": 2,
    }
    reply: dict[str, Any] = json.loads(orchestrator(json.dumps(context)))
    assert json.loads(orchestrator(json.dumps(context))) == reply, "a replay must ask for the same"
    return reply


def _actions(reply: dict[str, Any]) -> list[dict[str, Any]]:
    flat = [action for group in reply["actions"] for action in group]
    return [inner for action in flat for inner in action.get("compoundActions", [action])]


def test_a_new_purge_asks_for_its_first_batch_with_retries(orchestrator: Any) -> None:
    (call,) = _actions(_run(orchestrator, _started()))
    assert (call["actionType"], call["functionName"]) == (1, "application_purge_content_batch")
    assert json.loads(call["input"]) == JOB and call["retryOptions"]["maxNumberOfAttempts"] == 3


def test_a_batch_that_leaves_messages_continues_as_new_from_its_cursor(orchestrator: Any) -> None:
    restart = _actions(_run(orchestrator, _after_batch({"done": False, "cursor": "msg_9"})))[-1]
    assert restart["actionType"] == 4 and json.loads(restart["input"]) == {**JOB, "cursor": "msg_9"}


def test_the_last_batch_finishes_the_workflow(orchestrator: Any) -> None:
    reply = _run(orchestrator, _after_batch({"done": True, "cursor": "msg_9"}))
    assert reply["isDone"] and reply["output"] == "finished"
