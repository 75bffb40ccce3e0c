"""The orchestrator side of the protocol: the context JSON sent, the reply read, the actions carried out.

The SDK numbers every task it schedules (activity, timer, sub-orchestration, ...) in the order the
orchestrator yields them and matches completions by that number, so the host must number the
actions identically. The reply lists actions in yield order, cumulative and append-only, which
settles the numbering of everything but retries: a ``*_with_retry`` call consumes a fresh number
for each retry timer and each further attempt, at the moment the SDK replays the failure or the
timer. ``Sequencer`` keeps that bookkeeping; where a retry number and newly yielded actions fall in
the same episode, the engine asks the SDK how many actions existed at that point (``probe``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

from devhost.durable.history import (
    SCHEDULING_EVENTS,
    EventType,
    HistoryEvent,
    format_timestamp,
)
from devhost.timespan import format_timespan

# Marks the orchestrator state JSON inside the exception the SDK raises when user code fails.
_STATE_MARKER = "\n\n$OutOfProcData$:"
# upperSchemaVersionNew 2 selects the SDK's replay schema V3: one flat, cumulative action list.
_SCHEMA_FIELDS = {"upperSchemaVersion": 1, "upperSchemaVersionNew": 2}


@dataclass(frozen=True)
class TimerLimits:
    """The context's two long-timer fields; the defaults are the Azure Storage backend's.

    Under schema V3 the SDK turns a timer ending more than ``maximum_short`` after the current time
    into a chain of timers: one ``interval`` after another, then one to the final time once that is
    within ``maximum_short``. Each link is a CreateTimer action of its own, appended to the reply
    when the previous link has fired, so it gets its own task number, TimerCreated and TimerFired.
    """

    maximum_short: timedelta = timedelta(days=6)
    interval: timedelta = timedelta(days=3)

    def context_fields(self) -> dict[str, str]:
        return {
            "longRunningTimerIntervalDuration": format_timespan(self.interval),
            "maximumShortTimerDuration": format_timespan(self.maximum_short),
        }


class ActionType(IntEnum):
    CALL_ACTIVITY = 0
    CALL_ACTIVITY_WITH_RETRY = 1
    CALL_SUB_ORCHESTRATOR = 2
    CALL_SUB_ORCHESTRATOR_WITH_RETRY = 3
    CONTINUE_AS_NEW = 4
    CREATE_TIMER = 5
    WAIT_FOR_EXTERNAL_EVENT = 6
    CALL_ENTITY = 7
    CALL_HTTP = 8
    SIGNAL_ENTITY = 9
    SCHEDULED_SIGNAL_ENTITY = 10
    WHEN_ANY = 11
    WHEN_ALL = 12


_COMPOUND = frozenset({ActionType.WHEN_ANY, ActionType.WHEN_ALL})
_UNSUPPORTED = {
    ActionType.CALL_ENTITY: "call_entity (entities are not supported by devhost)",
    ActionType.SIGNAL_ENTITY: "signal_entity (entities are not supported by devhost)",
    ActionType.SCHEDULED_SIGNAL_ENTITY: "signal_entity (entities are not supported by devhost)",
    ActionType.CALL_HTTP: "call_http (durable HTTP is not supported by devhost)",
}


def context_json(
    *,
    instance_id: str,
    history: list[HistoryEvent],
    new_from: int,
    input_value: Any,
    parent_instance_id: str | None,
    timer_limits: TimerLimits,
) -> str:
    """The orchestration trigger's value; events before index ``new_from`` are marked as played."""
    played = [{**item, "IsPlayed": index < new_from} for index, item in enumerate(history)]
    return json.dumps(
        {
            "history": played,
            "input": input_value,
            "instanceId": instance_id,
            "isReplaying": False,
            "parentInstanceId": parent_instance_id,
            **_SCHEMA_FIELDS,
            **timer_limits.context_fields(),
        }
    )


def context_input(input_text: str | None) -> Any:
    """ExecutionStarted.Input as the context's ``input``.

    The host passes the input token itself: a start_new input, encoded twice by the client, arrives
    as the JSON text that get_input() decodes. A bare number or list would crash get_input(), so
    anything but a string goes as its JSON text, which decodes to the same value.
    """
    if input_text is None:
        return None
    value = json.loads(input_text)
    return value if isinstance(value, str) or value is None else input_text


@dataclass(frozen=True)
class OrchestratorReply:
    is_done: bool
    actions: list[dict[str, Any]]
    output: Any = None
    custom_status: Any = None
    error: str | None = None
    details: str | None = None

    @property
    def failed(self) -> bool:
        return bool(self.error)


def parse_reply(text: str) -> OrchestratorReply:
    state = json.loads(text)
    return OrchestratorReply(
        is_done=bool(state.get("isDone")),
        actions=_flat_actions(state.get("actions")),
        output=state.get("output"),
        custom_status=state.get("customStatus"),
        error=state.get("error") or None,
    )


def reply_from_exception(exc: Exception, details: str) -> OrchestratorReply:
    """The reply carried by the exception the SDK raises when the orchestrator function fails."""
    message = str(exc)
    error, marker, state_text = message.partition(_STATE_MARKER)
    actions: list[dict[str, Any]] = []
    custom_status = None
    if marker:
        try:
            state = json.loads(state_text)
        except ValueError:
            state = {}
        actions = _flat_actions(state.get("actions"))
        custom_status = state.get("customStatus")
        error = state.get("error") or error
    return OrchestratorReply(
        is_done=False,
        actions=actions,
        custom_status=custom_status,
        error=error or type(exc).__name__,
        details=details,
    )


def _flat_actions(raw: Any) -> list[dict[str, Any]]:
    # Schema V3 nests the one action list in an outer list of length one.
    if not raw:
        return []
    if len(raw) != 1:
        raise ValueError(f"expected one action list (replay schema V3), got {len(raw)}")
    return list(raw[0])


def leaves(action: dict[str, Any]) -> list[dict[str, Any]]:
    """The atomic actions of ``action`` in the order the SDK numbers them."""
    if action.get("actionType") in _COMPOUND:
        return [leaf for child in action.get("compoundActions") or () for leaf in leaves(child)]
    return [action]


@dataclass(frozen=True)
class NewActivity:
    task_id: int
    name: str
    input_text: str | None


@dataclass(frozen=True)
class NewTimer:
    task_id: int
    fire_at: str
    canceled: bool = False


@dataclass(frozen=True)
class NewSubOrchestration:
    task_id: int
    name: str
    instance_id: str
    input_text: str | None
    version: str


@dataclass(frozen=True)
class Unsupported:
    task_id: int
    what: str


Scheduled = NewActivity | NewTimer | NewSubOrchestration | Unsupported


@dataclass
class RetryGroup:
    """One ``*_with_retry`` call: its attempts and the retry timers between them."""

    activity: bool  # else a sub-orchestration
    name: str
    input_text: str | None
    instance_id: str | None
    version: str
    max_attempts: int
    interval_ms: int
    attempts: int = 1
    waiting_on_timer: bool = False
    finished: bool = False


@dataclass
class SequencerState:
    """What the numbering needs to remember between episodes; persisted with the instance."""

    next_id: int = 0
    # Per yielded action, the number of each of its leaves (None for an external event wait).
    leaf_ids: list[list[int | None]] = field(default_factory=list)
    groups: list[RetryGroup] = field(default_factory=list)
    # Task or timer number -> index into groups, for attempts and retry timers.
    retry_members: dict[int, int] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | None) -> SequencerState:
        if not text:
            return cls()
        raw = json.loads(text)
        return cls(
            next_id=raw["next_id"],
            leaf_ids=raw["leaf_ids"],
            groups=[RetryGroup(**group) for group in raw["groups"]],
            retry_members={int(key): value for key, value in raw["retry_members"].items()},
        )


class Sequencer:
    """Numbers the actions of one execution the way the SDK does, and says what is new to run."""

    def __init__(self, state: SequencerState, instance_id: str) -> None:
        self.state = state
        self._instance_id = instance_id
        self.scheduled: list[Scheduled] = []

    @property
    def issued(self) -> int:
        return len(self.state.leaf_ids)

    def issue(self, actions: list[dict[str, Any]], upto: int | None = None) -> None:
        """Number the actions from the first not yet numbered up to index ``upto`` (all if None)."""
        end = len(actions) if upto is None else min(upto, len(actions))
        for action in actions[self.issued : end]:
            self.state.leaf_ids.append([self._issue_leaf(leaf) for leaf in leaves(action)])

    def _issue_leaf(self, leaf: dict[str, Any]) -> int | None:
        action_type = ActionType(leaf["actionType"])
        if action_type is ActionType.WAIT_FOR_EXTERNAL_EVENT:
            return None  # matched by event name, not by number
        task_id = self._allocate()
        if action_type in (ActionType.CALL_ACTIVITY, ActionType.CALL_ACTIVITY_WITH_RETRY):
            self.scheduled.append(NewActivity(task_id, leaf["functionName"], leaf.get("input")))
        elif action_type in (ActionType.CALL_SUB_ORCHESTRATOR, ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY):
            # Without an explicit id the child's id derives from the parent's, so replays agree.
            child_id = leaf.get("instanceId") or f"{self._instance_id}:{task_id}"
            self.scheduled.append(
                NewSubOrchestration(
                    task_id, leaf["functionName"], child_id, leaf.get("input"), leaf.get("version") or ""
                )
            )
        elif action_type is ActionType.CREATE_TIMER:
            self.scheduled.append(NewTimer(task_id, leaf["fireAt"], bool(leaf.get("isCanceled"))))
        elif action_type in _UNSUPPORTED:
            self.scheduled.append(Unsupported(task_id, _UNSUPPORTED[action_type]))
        if action_type in (ActionType.CALL_ACTIVITY_WITH_RETRY, ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY):
            options = leaf.get("retryOptions") or {}
            latest = self.scheduled[-1]
            self.state.groups.append(
                RetryGroup(
                    activity=action_type is ActionType.CALL_ACTIVITY_WITH_RETRY,
                    name=leaf["functionName"],
                    input_text=leaf.get("input"),
                    instance_id=latest.instance_id if isinstance(latest, NewSubOrchestration) else None,
                    version=leaf.get("version") or "",
                    max_attempts=int(options.get("maxNumberOfAttempts", 1)),
                    interval_ms=int(options.get("firstRetryIntervalInMilliseconds", 0)),
                )
            )
            self.state.retry_members[task_id] = len(self.state.groups) - 1
        return task_id

    def _allocate(self) -> int:
        task_id = self.state.next_id
        self.state.next_id += 1
        return task_id

    def _group_of(self, item: HistoryEvent, key: str) -> RetryGroup | None:
        index = self.state.retry_members.get(item.get(key, -1))
        return None if index is None else self.state.groups[index]

    def allocates_on(self, item: HistoryEvent) -> bool:
        """Whether replaying ``item`` makes the SDK number a retry timer or a further attempt."""
        event_type = item["EventType"]
        if event_type in (EventType.TASK_FAILED, EventType.SUB_ORCHESTRATION_FAILED):
            group = self._group_of(item, "TaskScheduledId")
            return group is not None and not group.finished and not group.waiting_on_timer
        if event_type == EventType.TIMER_FIRED:
            group = self._group_of(item, "TimerId")
            return group is not None and group.waiting_on_timer and group.attempts < group.max_attempts
        return False

    def apply(self, item: HistoryEvent, now: datetime) -> None:
        """Follow the retry logic of the SDK (and of DTFx's retry interceptor) for one new event.

        After a failed attempt comes a retry timer; after that timer, another attempt if any are
        left. Even the last failure gets its timer: the SDK raises only once it has fired.
        """
        event_type = item["EventType"]
        if event_type in (EventType.TASK_COMPLETED, EventType.SUB_ORCHESTRATION_COMPLETED):
            group = self._group_of(item, "TaskScheduledId")
            if group is not None:
                group.finished = True
        elif event_type in (EventType.TASK_FAILED, EventType.SUB_ORCHESTRATION_FAILED):
            group = self._group_of(item, "TaskScheduledId")
            if group is not None and not group.finished and not group.waiting_on_timer:
                timer_id = self._allocate()
                self.state.retry_members[timer_id] = self.state.retry_members[item["TaskScheduledId"]]
                fire_at = now + timedelta(milliseconds=group.interval_ms)
                self.scheduled.append(NewTimer(timer_id, format_timestamp(fire_at)))
                group.waiting_on_timer = True
        elif event_type == EventType.TIMER_FIRED:
            group = self._group_of(item, "TimerId")
            if group is not None and group.waiting_on_timer:
                group.waiting_on_timer = False
                if group.attempts >= group.max_attempts:
                    group.finished = True
                else:
                    group.attempts += 1
                    task_id = self._allocate()
                    self.state.retry_members[task_id] = self.state.retry_members[item["TimerId"]]
                    self.scheduled.append(self._attempt(group, task_id))

    @staticmethod
    def _attempt(group: RetryGroup, task_id: int) -> Scheduled:
        if group.activity:
            return NewActivity(task_id, group.name, group.input_text)
        assert group.instance_id is not None  # set when the first attempt was issued
        return NewSubOrchestration(task_id, group.name, group.instance_id, group.input_text, group.version)


def nondeterminism(
    actions: list[dict[str, Any]], state: SequencerState, history: list[HistoryEvent]
) -> str | None:
    """Why the replayed actions contradict the recorded history, or None when they agree.

    Detects orchestrator code that changed under a running instance, as DTFx does; without this
    check a completion would silently reach the wrong task.
    """
    if len(actions) < len(state.leaf_ids):
        return (
            f"the orchestrator yielded {len(actions)} action(s) on replay, "
            f"but {len(state.leaf_ids)} were recorded"
        )
    scheduled = {item["EventId"]: item for item in history if item["EventType"] in SCHEDULING_EVENTS}
    for action, ids in zip(actions, state.leaf_ids, strict=False):
        action_leaves = leaves(action)
        if len(action_leaves) != len(ids):
            return (
                f"action {action.get('actionType')} has {len(action_leaves)} part(s) on replay, "
                f"{len(ids)} before"
            )
        for leaf, task_id in zip(action_leaves, ids, strict=True):
            expected = _scheduling_event(leaf)
            recorded = scheduled.get(task_id)
            if expected is None or task_id is None or recorded is None:
                continue
            event_type, name = expected
            if recorded["EventType"] != event_type or (name is not None and recorded.get("Name") != name):
                return (
                    f"task {task_id} was recorded as {recorded.get('Name') or 'a timer'} "
                    f"but is {name or 'a timer'} on replay"
                )
    return None


def _scheduling_event(leaf: dict[str, Any]) -> tuple[EventType, str | None] | None:
    action_type = leaf.get("actionType")
    if action_type in (ActionType.CALL_ACTIVITY, ActionType.CALL_ACTIVITY_WITH_RETRY):
        return EventType.TASK_SCHEDULED, leaf.get("functionName")
    if action_type in (ActionType.CALL_SUB_ORCHESTRATOR, ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY):
        return EventType.SUB_ORCHESTRATION_CREATED, leaf.get("functionName")
    if action_type == ActionType.CREATE_TIMER:
        return EventType.TIMER_CREATED, None
    return None


def canceled_timers(actions: list[dict[str, Any]], state: SequencerState) -> set[int]:
    """Numbers of timers the orchestrator has cancelled (task_any losers); they need not fire."""
    canceled: set[int] = set()
    for action, ids in zip(actions, state.leaf_ids, strict=False):
        for leaf, task_id in zip(leaves(action), ids, strict=False):
            if (
                task_id is not None
                and leaf.get("actionType") == ActionType.CREATE_TIMER
                and leaf.get("isCanceled")
            ):
                canceled.add(task_id)
    return canceled


def continue_as_new_input(actions: list[dict[str, Any]]) -> tuple[bool, str | None]:
    """Whether the reply ends the execution with continue_as_new, and the next execution's input."""
    for action in actions:
        if action.get("actionType") == ActionType.CONTINUE_AS_NEW:
            return True, action.get("input")
    return False, None
