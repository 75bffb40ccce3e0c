"""Durable replay histories built from named steps, and the orchestrator replies they get.

A test writes the history the Durable host would hold, step by step, as the Durable SDK's own
tests do (`ContextBuilder`, `HistoryEventType`, `ActionType`), and hands it to the real SDK:

    history = History("delivery_retries_v1", job, instance_id="dlv~...", at="2026-01-01T00:00:00Z")
    history.timer_created("2026-01-01T00:00:05Z").episode("2026-01-01T00:00:05.1Z").timer_fired()
    (call,) = actions(history.replay(orchestrator))
    assert call["actionType"] == ActionType.CALL_ACTIVITY

Every event of an episode carries the time its episode started: that is the clock the SDK gives
the orchestrator (`current_utc_datetime`). Task ids are numbered in scheduling order, timers and
activities alike, as the SDK numbers them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from azure.durable_functions.models.actions.ActionType import ActionType
from azure.durable_functions.models.history.HistoryEventType import HistoryEventType

__all__ = ["RETRY_JOB", "ActionType", "History", "HistoryEventType", "actions", "durable_function"]

Event = dict[str, Any]
Orchestrator = Callable[[str], str]

# A retry workflow's input as dispatch starts it (`RetryInput`): one destination after its failed
# first attempt, due again in 5 s, schedule [5, 300]. Tests copy it and change what they vary.
RETRY_JOB: dict[str, Any] = {
    "tenantId": "t1",
    "appId": "app_1",
    "msgId": "msg_1",
    "endpointId": "ep_1",
    "attempts": 1,
    "retryIn": 5.0,
    "schedule": [5, 300],
    "floorSeconds": 60.0,
}


def durable_function(blueprint: Any, name: str) -> Any:
    """The user function of `blueprint`'s Durable function `name`, as the worker would call it."""
    import azure.durable_functions as df

    app = df.DFApp()
    app.register_functions(blueprint)
    (function,) = [f for f in app.get_functions() if f.get_function_name() == name]
    return function.get_user_function()


class History:
    """An orchestration's history: started at `at`, then the steps the test adds."""

    def __init__(self, orchestration: str, input_: Any, *, instance_id: str, at: str) -> None:
        self.input = input_
        self.instance_id = instance_id
        self.events: list[Event] = []
        self._at = at
        self._next_task_id = 0
        self._timers: list[Event] = []
        self._activities: list[int] = []
        self._add(HistoryEventType.ORCHESTRATOR_STARTED)
        self._add(
            HistoryEventType.EXECUTION_STARTED,
            Name=orchestration,
            Version="",
            Input=json.dumps(json.dumps(input_)),
            OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": "e1"},
            ParentInstance=None,
        )

    # --- what the orchestrator scheduled ------------------------------------------------------

    def timer_created(self, fire_at: str) -> History:
        timer = self._add(HistoryEventType.TIMER_CREATED, EventId=self._task_id(), FireAt=fire_at)
        self._timers.append(timer)
        return self

    def activity_scheduled(self, name: str) -> History:
        task_id = self._task_id()
        self._add(HistoryEventType.TASK_SCHEDULED, EventId=task_id, Name=name, Version="", Input=None)
        self._activities.append(task_id)
        return self

    # --- what happened since ------------------------------------------------------------------

    def episode(self, at: str | None = None) -> History:
        """The orchestrator's episode ends; the next starts at `at` (the same moment by default)."""
        self._add(HistoryEventType.ORCHESTRATOR_COMPLETED)
        self._at = at or self._at
        self._add(HistoryEventType.ORCHESTRATOR_STARTED)
        return self

    def timer_fired(self) -> History:
        """The earliest timer not fired yet fires."""
        timer = self._timers.pop(0)
        self._add(HistoryEventType.TIMER_FIRED, TimerId=timer["EventId"], FireAt=timer["FireAt"])
        return self

    def activity_completed(self, result: Any) -> History:
        """The earliest activity not finished yet returns `result`."""
        self._add(
            HistoryEventType.TASK_COMPLETED,
            TaskScheduledId=self._activities.pop(0),
            Result=json.dumps(result),
        )
        return self

    # --- replaying it ---------------------------------------------------------------------------

    def replay(self, orchestrator: Orchestrator) -> dict[str, Any]:
        """The orchestrator's reply to this history; replaying it again must give the same reply
        (an orchestrator is deterministic)."""
        context = json.dumps(
            {
                "history": self.events,
                "input": json.dumps(self.input),
                "instanceId": self.instance_id,
                "isReplaying": False,
                "parentInstanceId": None,
                "upperSchemaVersion": 1,
                "upperSchemaVersionNew": 2,
            }
        )
        reply: dict[str, Any] = json.loads(orchestrator(context))
        assert json.loads(orchestrator(context)) == reply, "replaying the same history must ask for the same"
        return reply

    def _task_id(self) -> int:
        task_id, self._next_task_id = self._next_task_id, self._next_task_id + 1
        return task_id

    def _add(self, kind: HistoryEventType, **fields: Any) -> Event:
        event = {"EventType": kind, "EventId": -1, "IsPlayed": False, "Timestamp": self._at, **fields}
        self.events.append(event)
        return event


def actions(reply: dict[str, Any]) -> list[dict[str, Any]]:
    """Every action of a reply, in order; a call with retries (a compound action) by what it calls."""
    flat = [action for group in reply["actions"] for action in group]
    return [inner for action in flat for inner in action.get("compoundActions", [action])]
