"""History events as the Python SDK reads them: PascalCase JSON objects with an integer EventType.

Every event devhost persists is one of these dicts, so what is stored is exactly what the SDK is
sent on replay.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

HistoryEvent = dict[str, Any]

# The SDK formats fireAt this way; timestamps are written the same way so they compare as text too.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class EventType(IntEnum):
    EXECUTION_STARTED = 0
    EXECUTION_COMPLETED = 1
    EXECUTION_FAILED = 2
    EXECUTION_TERMINATED = 3
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_CREATED = 7
    SUB_ORCHESTRATION_COMPLETED = 8
    SUB_ORCHESTRATION_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_SENT = 14
    EVENT_RAISED = 15
    CONTINUE_AS_NEW = 16
    EXECUTION_SUSPENDED = 19
    EXECUTION_RESUMED = 20


# The names the Durable extension's showHistory output uses.
EVENT_NAMES = {
    EventType.EXECUTION_STARTED: "ExecutionStarted",
    EventType.EXECUTION_COMPLETED: "ExecutionCompleted",
    EventType.EXECUTION_FAILED: "ExecutionFailed",
    EventType.EXECUTION_TERMINATED: "ExecutionTerminated",
    EventType.TASK_SCHEDULED: "TaskScheduled",
    EventType.TASK_COMPLETED: "TaskCompleted",
    EventType.TASK_FAILED: "TaskFailed",
    EventType.SUB_ORCHESTRATION_CREATED: "SubOrchestrationInstanceCreated",
    EventType.SUB_ORCHESTRATION_COMPLETED: "SubOrchestrationInstanceCompleted",
    EventType.SUB_ORCHESTRATION_FAILED: "SubOrchestrationInstanceFailed",
    EventType.TIMER_CREATED: "TimerCreated",
    EventType.TIMER_FIRED: "TimerFired",
    EventType.ORCHESTRATOR_STARTED: "OrchestratorStarted",
    EventType.ORCHESTRATOR_COMPLETED: "OrchestratorCompleted",
    EventType.EVENT_SENT: "EventSent",
    EventType.EVENT_RAISED: "EventRaised",
    EventType.CONTINUE_AS_NEW: "ContinueAsNew",
    EventType.EXECUTION_SUSPENDED: "ExecutionSuspended",
    EventType.EXECUTION_RESUMED: "ExecutionResumed",
}

# Events that carry the id of the task they schedule in EventId.
SCHEDULING_EVENTS = frozenset(
    {EventType.TASK_SCHEDULED, EventType.TIMER_CREATED, EventType.SUB_ORCHESTRATION_CREATED}
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 timestamp; a naive one (the SDK formats naive fireAt values too) is taken as UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def event(event_type: EventType, timestamp: datetime, *, event_id: int = -1, **fields: Any) -> HistoryEvent:
    return {
        "EventType": int(event_type),
        "EventId": event_id,
        "IsPlayed": False,
        "Timestamp": format_timestamp(timestamp),
        **fields,
    }


def execution_started(
    timestamp: datetime,
    *,
    name: str,
    version: str,
    input_text: str | None,
    instance_id: str,
    execution_id: str,
    parent: dict[str, Any] | None,
) -> HistoryEvent:
    return event(
        EventType.EXECUTION_STARTED,
        timestamp,
        Name=name,
        Version=version,
        Input=input_text,
        OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id},
        ParentInstance=parent,
        Tags=None,
        Correlation=None,
        ScheduledStartTime=None,
        Generation=0,
    )


def parent_instance(*, name: str, instance_id: str, execution_id: str, task_id: int) -> dict[str, Any]:
    """ExecutionStarted.ParentInstance of a sub-orchestration."""
    return {
        "Name": name,
        "Version": "",
        "OrchestrationInstance": {"InstanceId": instance_id, "ExecutionId": execution_id},
        "TaskScheduleId": task_id,
    }


def task_scheduled(timestamp: datetime, task_id: int, name: str, input_text: str | None) -> HistoryEvent:
    # The extension records activity inputs as its parameter array: a JSON array of the one input.
    return event(
        EventType.TASK_SCHEDULED,
        timestamp,
        event_id=task_id,
        Name=name,
        Version="",
        Input=json.dumps([input_text]),
    )


def timer_created(timestamp: datetime, task_id: int, fire_at: str) -> HistoryEvent:
    return event(EventType.TIMER_CREATED, timestamp, event_id=task_id, FireAt=fire_at)


def sub_orchestration_created(
    timestamp: datetime, task_id: int, name: str, instance_id: str, input_text: str | None
) -> HistoryEvent:
    return event(
        EventType.SUB_ORCHESTRATION_CREATED,
        timestamp,
        event_id=task_id,
        Name=name,
        Version="",
        InstanceId=instance_id,
        Input=input_text,
    )


def last_orchestrator_started(history: Iterable[HistoryEvent]) -> datetime | None:
    latest: datetime | None = None
    for item in history:
        if item["EventType"] == EventType.ORCHESTRATOR_STARTED:
            latest = parse_timestamp(item["Timestamp"])
    return latest


def for_display(item: HistoryEvent, *, with_payloads: bool) -> dict[str, Any]:
    """An event as the status API's historyEvents shows it: EventType by name, payloads on request."""
    shown = {key: value for key, value in item.items() if key != "IsPlayed"}
    shown["EventType"] = EVENT_NAMES.get(EventType(item["EventType"]), str(item["EventType"]))
    if not with_payloads:
        for key in ("Input", "Result", "Details"):
            shown.pop(key, None)
    return shown
