"""The Durable engine: orchestrator episodes, activity executions and timers, driven from SQLite.

Three loops run while the host serves:
- orchestrations: an instance with inbox messages gets an episode. Its history, a new
  OrchestratorStarted and the messages go to the orchestrator function; the reply's new actions
  become activities, timers and sub-orchestrations. All of it commits in one transaction.
- activities: each pending activity runs once a slot is free; then one transaction deletes it and
  enqueues its result (TaskCompleted or TaskFailed) for the orchestrator.
- timers: a due timer turns into a TimerFired message in one transaction.
Each loop wakes on an event when the others produce work for it, and polls as a fallback, so a
restarted host picks up whatever the store holds: nothing is kept only in memory.

Concurrency follows host.json ``maxConcurrentOrchestratorFunctions`` and
``maxConcurrentActivityFunctions``; an instance never has two episodes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import json
import logging
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from devhost.background import Stopping, wait_any
from devhost.durable import history as h
from devhost.durable.config import DurableOptions
from devhost.durable.history import EventType, HistoryEvent
from devhost.durable.orchestrator import (
    NewActivity,
    NewSubOrchestration,
    NewTimer,
    OrchestratorReply,
    Scheduled,
    Sequencer,
    SequencerState,
    Unsupported,
    canceled_timers,
    context_input,
    context_json,
    continue_as_new_input,
    nondeterminism,
    parse_reply,
    reply_from_exception,
)
from devhost.durable.store import (
    COMPLETED,
    CONTINUED_AS_NEW,
    EVENT,
    FAILED,
    PENDING,
    RESUME,
    RUNNING,
    SUSPEND,
    SUSPENDED,
    TERMINATE,
    TERMINATED,
    ActivityWork,
    DurableStore,
    Instance,
    InstanceQuery,
    Message,
)
from devhost.hostrules import validate_instance_id
from devhost.invocation import FAILED as INVOCATION_FAILED
from devhost.invocation import SUCCEEDED, Invoker, log_invocation
from devhost.loader import FunctionSpec
from devhost.worker import FunctionFailed, text_of, typed_json, typed_string

logger = logging.getLogger(__name__)

# Fallback polling when no wake-up arrives (also how long a crashed episode waits at first).
POLL_SECONDS = 1.0
# A timer may fire this much early, so a wait is not split into a needless extra round.
_TIMER_SLACK_SECONDS = 0.001
# Retries of work that failed in devhost itself (not in user code) back off up to this.
_MAX_BACKOFF_SECONDS = 60.0


class UnknownOrchestrator(Exception):
    """start_new named no orchestrator function of the app."""


class InstanceExists(Exception):
    """start_new named an instance that is still running."""


class InvalidInstanceId(Exception):
    """start_new named an instance id the Durable extension refuses."""


class Outcome(enum.Enum):
    """What a management request did, mapped to HTTP by the client API."""

    ACCEPTED = "accepted"
    NOT_FOUND = "not_found"
    GONE = "gone"  # the instance has already finished
    NOT_TERMINAL = "not_terminal"


@dataclass(frozen=True)
class FunctionTable:
    """The app's orchestrators and activities, by their durable names (case-insensitive, as on Azure)."""

    orchestrators: Mapping[str, FunctionSpec]
    activities: Mapping[str, FunctionSpec]

    def orchestrator(self, name: str) -> FunctionSpec | None:
        return self.orchestrators.get(name.casefold())

    def activity(self, name: str) -> FunctionSpec | None:
        return self.activities.get(name.casefold())


@dataclass
class _Backoff:
    """Delays retrying work that failed in devhost's own code, so a bug cannot spin a loop."""

    not_before: dict[Any, tuple[float, float]] = dataclasses.field(default_factory=dict)

    def ready(self, key: Any) -> bool:
        entry = self.not_before.get(key)
        return entry is None or time.monotonic() >= entry[0]

    def failed(self, key: Any) -> None:
        delay = min(_MAX_BACKOFF_SECONDS, self.not_before.get(key, (0.0, POLL_SECONDS / 2))[1] * 2)
        self.not_before[key] = (time.monotonic() + delay, delay)

    def succeeded(self, key: Any) -> None:
        self.not_before.pop(key, None)


@dataclass(frozen=True)
class _Batch:
    """The messages one episode delivers."""

    events: list[HistoryEvent]
    consumed: list[int]
    status: str  # the runtime status once the batch is delivered (Suspended, Running)


class DurableEngine:
    def __init__(
        self,
        *,
        store: DurableStore,
        invoker: Invoker,
        options: DurableOptions,
        functions: FunctionTable,
        stopping: Stopping,
    ) -> None:
        self._store = store
        self._invoker = invoker
        self._options = options
        self._functions = functions
        self._stopping = stopping
        self._orchestrations_ready = asyncio.Event()
        self._activities_ready = asyncio.Event()
        self._timers_changed = asyncio.Event()
        self._episodes: dict[str, asyncio.Task[None]] = {}
        self._activity_runs: dict[int, asyncio.Task[None]] = {}
        self._episode_backoff = _Backoff()
        self._activity_backoff = _Backoff()

    async def run(self) -> None:
        """Dispatch work until the host stops, then let running work finish within the grace period."""
        loops = [
            asyncio.create_task(self._dispatch_orchestrations(), name="durable-orchestrations"),
            asyncio.create_task(self._dispatch_activities(), name="durable-activities"),
            asyncio.create_task(self._fire_timers(), name="durable-timers"),
        ]
        try:
            await self._stopping.event.wait()
        finally:
            await self._stopping.drain(loops, "durable dispatchers")
            running = [*self._episodes.values(), *self._activity_runs.values()]
            await self._stopping.drain(running, "orchestrator episodes and activities")

    # Dispatch loops

    async def _dispatch_orchestrations(self) -> None:
        while not self._stopping.is_set():
            self._orchestrations_ready.clear()
            with _logged("dispatching orchestrator episodes"):
                for instance_id in self._store.instances_with_messages():
                    if len(self._episodes) >= self._options.max_concurrent_orchestrators:
                        break  # a finishing episode sets the event again
                    if instance_id in self._episodes or not self._episode_backoff.ready(instance_id):
                        continue
                    task = asyncio.create_task(self._episode(instance_id), name=f"episode {instance_id}")
                    self._episodes[instance_id] = task
            await wait_any([self._orchestrations_ready, self._stopping.event], within=POLL_SECONDS)

    async def _dispatch_activities(self) -> None:
        while not self._stopping.is_set():
            self._activities_ready.clear()
            free = self._options.max_concurrent_activities - len(self._activity_runs)
            with _logged("dispatching activities"):
                pending = self._store.activities(free, exclude=list(self._activity_runs)) if free > 0 else []
                for work in pending:
                    if self._activity_backoff.ready(work.id):
                        task = asyncio.create_task(self._activity(work), name=f"activity {work.name}")
                        self._activity_runs[work.id] = task
            await wait_any([self._activities_ready, self._stopping.event], within=POLL_SECONDS)

    async def _fire_timers(self) -> None:
        while not self._stopping.is_set():
            self._timers_changed.clear()
            wait = POLL_SECONDS
            with _logged("firing timers"):
                self._fire_due_timers()
                next_due = self._store.next_timer_due()
                if next_due is not None:
                    wait = min(POLL_SECONDS, max(0.0, next_due - time.time()))
            await wait_any([self._timers_changed, self._stopping.event], within=wait)

    def _fire_due_timers(self) -> None:
        due = self._store.due_timers(time.time() + _TIMER_SLACK_SECONDS)
        if not due:
            return
        with self._store.transaction():
            for timer in due:
                self._store.delete_timer(timer.id)
                # Stamped no earlier than it was due, as on Azure, even when a timer scale (or the
                # slack) fires it before the wall clock gets there.
                stamp = max(h.utc_now(), h.parse_timestamp(timer.fire_at))
                fired = h.event(EventType.TIMER_FIRED, stamp, TimerId=timer.timer_id, FireAt=timer.fire_at)
                self._deliver(timer.instance_id, timer.execution_id, fired)
        self._orchestrations_ready.set()

    def _deliver(self, instance_id: str, execution_id: str, item: HistoryEvent) -> None:
        """Enqueue a completion for an execution, unless that execution has ended meanwhile."""
        instance = self._store.instance(instance_id)
        if instance is not None and not instance.is_terminal and instance.execution_id == execution_id:
            self._store.enqueue(instance_id, EVENT, item, execution_id)

    # Orchestrator episodes

    async def _episode(self, instance_id: str) -> None:
        try:
            await self._run_episode(instance_id)
            self._episode_backoff.succeeded(instance_id)
        except Exception:
            logger.exception(
                "durable: the episode of instance '%s' failed in devhost; retrying later", instance_id
            )
            self._episode_backoff.failed(instance_id)
        finally:
            del self._episodes[instance_id]
            self._orchestrations_ready.set()

    async def _run_episode(self, instance_id: str) -> None:
        instance = self._store.instance(instance_id)
        messages = self._store.messages(instance_id)
        if not messages:
            return
        if instance is None or instance.is_terminal:
            # Nothing can use them any more (e.g. a late timer of a purged instance).
            with self._store.transaction():
                self._store.delete_messages([message.id for message in messages])
            return
        current = [m for m in messages if m.execution_id in (None, instance.execution_id)]
        stale = [m.id for m in messages if m.execution_id not in (None, instance.execution_id)]
        terminate = next((m for m in current if m.kind == TERMINATE), None)
        if terminate is not None:
            self._terminate(instance, str(terminate.payload))
            return
        batch = _plan_batch(instance.runtime_status, current, stale)
        if not batch.events:
            with self._store.transaction():
                self._store.delete_messages(batch.consumed)
            return
        await self._replay(instance, batch)

    async def _replay(self, instance: Instance, batch: _Batch) -> None:
        spec = self._functions.orchestrator(instance.name)
        past = self._store.history(instance.instance_id)
        now = _episode_time(past, batch.events)
        started = h.event(EventType.ORCHESTRATOR_STARTED, now)
        invocation_id = self._invoker.new_invocation_id()
        clock = time.perf_counter()
        if spec is None:
            reply = OrchestratorReply(
                is_done=False,
                actions=[],
                error=f"The orchestrator function '{instance.name}' doesn't exist in this app",
            )
        else:
            reply = await self._call_orchestrator(spec, instance, [*past, started, *batch.events], len(past))
        sequencer = Sequencer(SequencerState.from_json(instance.sequencer), instance.instance_id)
        failure = self._failure(instance, reply) or _nondeterminism(reply, sequencer.state, past)
        if failure is None:
            for index, item in enumerate(batch.events):
                unnumbered = sequencer.issued < len(reply.actions)
                if spec is not None and unnumbered and sequencer.allocates_on(item):
                    # A retry number falls here, and the episode yielded new actions: number those
                    # the SDK had yielded before this event first.
                    prefix = [*past, started, *batch.events[:index]]
                    probe = await self._call_orchestrator(spec, instance, prefix, len(past))
                    sequencer.issue(reply.actions, len(probe.actions))
                sequencer.apply(item, now)
            sequencer.issue(reply.actions)
            refused = [_refusal(s) for s in sequencer.scheduled]
            problems = [problem for problem in refused if problem is not None]
            if problems:
                message = f"Orchestrator function '{instance.name}' failed: {problems[0]}"
                failure = (message, message)
        # The episode's awaits are over; from here to the commit nothing else runs on the loop.
        latest = self._store.instance(instance.instance_id)
        if latest is None or latest.execution_id != instance.execution_id or latest.is_terminal:
            logger.info(
                "durable: instance '%s' changed during its episode; result discarded", instance.instance_id
            )
            return
        status = self._commit_episode(instance, batch, started, reply, sequencer, failure)
        if spec is not None:
            log_invocation(
                spec,
                trigger="orchestration",
                detail=(
                    f"instance '{instance.instance_id}': {len(batch.events)} new event(s), "
                    f"{len(sequencer.scheduled)} new task(s) -> {status}"
                ),
                outcome=INVOCATION_FAILED if reply.failed else SUCCEEDED,
                duration_ms=(time.perf_counter() - clock) * 1000,
                invocation_id=invocation_id,
            )
        else:
            logger.warning("durable: instance '%s' failed: %s", instance.instance_id, reply.error)

    def _failure(self, instance: Instance, reply: OrchestratorReply) -> tuple[str, str] | None:
        if not reply.failed:
            return None
        reason = f"Orchestrator function '{instance.name}' failed: {reply.error}"
        return reason, reply.details or reason

    async def _call_orchestrator(
        self, spec: FunctionSpec, instance: Instance, history: list[HistoryEvent], new_from: int
    ) -> OrchestratorReply:
        start = next((item for item in history if item["EventType"] == EventType.EXECUTION_STARTED), None)
        if start is None:
            raise RuntimeError(f"instance '{instance.instance_id}' has no ExecutionStarted event")
        payload = context_json(
            instance_id=instance.instance_id,
            history=history,
            new_from=new_from,
            input_value=context_input(start.get("Input")),
            parent_instance_id=instance.parent_instance_id,
            timer_limits=self._options.timer_limits,
        )
        try:
            invocation = await self._invoker.invoke(
                spec, self._invoker.new_invocation_id(), typed_string(payload)
            )
        except FunctionFailed as exc:
            # The SDK's exception carries the orchestrator's state; the worker adds the traceback.
            return reply_from_exception(exc, exc.stack_trace)
        return parse_reply(text_of(invocation.return_value) or "")

    def _commit_episode(
        self,
        instance: Instance,
        batch: _Batch,
        started: HistoryEvent,
        reply: OrchestratorReply,
        sequencer: Sequencer,
        failure: tuple[str, str] | None,
    ) -> str:
        """Write the episode's history, status and new work in one transaction; returns the status."""
        now = h.utc_now()
        stamp = h.format_timestamp(now)
        moment = h.parse_timestamp(started["Timestamp"])
        events: list[HistoryEvent] = [started, *batch.events]
        custom_status = None if reply.custom_status is None else json.dumps(reply.custom_status)
        updated = dataclasses.replace(
            instance, runtime_status=batch.status, custom_status=custom_status, last_updated_time=stamp
        )
        continues, next_input = continue_as_new_input(reply.actions)
        with self._store.transaction():
            self._store.delete_messages(batch.consumed)
            if failure is not None:
                reason, details = failure
                events.append(h.event(EventType.EXECUTION_FAILED, moment, Reason=reason, Details=details))
                updated = dataclasses.replace(updated, runtime_status=FAILED, output=json.dumps(reason))
                self._finish(updated, failed=(reason, details))
            elif reply.is_done and continues:
                updated = self._continue_as_new(updated, next_input, now)
                events = []  # the new execution starts with a fresh history
            elif reply.is_done:
                result = json.dumps(reply.output)
                events.append(
                    h.event(
                        EventType.EXECUTION_COMPLETED, moment, Result=result, OrchestrationStatus=COMPLETED
                    )
                )
                updated = dataclasses.replace(updated, runtime_status=COMPLETED, output=result)
                self._finish(updated, result=result)
            else:
                events.extend(self._schedule(instance, sequencer, moment))
                self._store.cancel_timers(
                    instance.instance_id,
                    instance.execution_id,
                    sorted(canceled_timers(reply.actions, sequencer.state)),
                )
                updated = dataclasses.replace(updated, sequencer=sequencer.state.to_json())
            if events:
                # Not before the episode's start, which a timer scale may have moved ahead of the clock.
                events.append(h.event(EventType.ORCHESTRATOR_COMPLETED, max(now, moment)))
                self._store.append_history(instance.instance_id, events)
            self._store.put_instance(updated)
        self._activities_ready.set()
        self._timers_changed.set()
        self._orchestrations_ready.set()
        return updated.runtime_status

    def _schedule(self, instance: Instance, sequencer: Sequencer, moment: datetime) -> list[HistoryEvent]:
        """Record and enqueue the episode's new tasks; returns their scheduling events."""
        events: list[HistoryEvent] = []
        iid, eid = instance.instance_id, instance.execution_id
        for item in sequencer.scheduled:
            if isinstance(item, NewActivity):
                events.append(h.task_scheduled(moment, item.task_id, item.name, item.input_text))
                self._store.add_activity(iid, eid, item.task_id, item.name, item.input_text)
            elif isinstance(item, NewTimer):
                events.append(h.timer_created(moment, item.task_id, item.fire_at))
                if not item.canceled:
                    self._store.add_timer(
                        iid, eid, item.task_id, item.fire_at, self._due(item.fire_at, moment)
                    )
            elif isinstance(item, NewSubOrchestration):
                child_input = None if item.input_text is None else json.dumps(item.input_text)
                events.append(
                    h.sub_orchestration_created(
                        moment, item.task_id, item.name, item.instance_id, child_input
                    )
                )
                self._start_child(instance, item, child_input)
        return events

    def _start_child(self, parent: Instance, item: NewSubOrchestration, input_text: str | None) -> None:
        existing = self._store.instance(item.instance_id)
        if existing is not None and not existing.is_terminal:
            status = existing.runtime_status
            reason = f"An orchestration instance with the ID '{item.instance_id}' is already {status}"
            failed = h.event(
                EventType.SUB_ORCHESTRATION_FAILED,
                h.utc_now(),
                TaskScheduledId=item.task_id,
                Reason=reason,
                Details=reason,
            )
            self._store.enqueue(parent.instance_id, EVENT, failed, parent.execution_id)
            return
        self._start_instance(
            instance_id=item.instance_id,
            name=item.name,
            version=item.version,
            input_text=input_text,
            parent=(parent, item.task_id),
        )

    def _due(self, fire_at: str, moment: datetime) -> float:
        """Wall-clock time a timer fires: its delay from the episode's time, scaled for tests."""
        delay = (h.parse_timestamp(fire_at) - moment).total_seconds()
        return time.time() + max(0.0, delay) * self._options.timer_scale

    def _continue_as_new(self, instance: Instance, input_text: str | None, now: datetime) -> Instance:
        """End the execution and queue the next one's ExecutionStarted; pending raised events stay."""
        execution_id = uuid.uuid4().hex
        self._store.clear_execution(instance.instance_id)
        parent = None
        if instance.parent_instance_id is not None:
            assert instance.parent_execution_id is not None and instance.parent_task_id is not None
            parent = h.parent_instance(
                name=instance.name,
                instance_id=instance.parent_instance_id,
                execution_id=instance.parent_execution_id,
                task_id=instance.parent_task_id,
            )
        execution_input = None if input_text is None else json.dumps(input_text)
        start = h.execution_started(
            now,
            name=instance.name,
            version=instance.version,
            input_text=execution_input,
            instance_id=instance.instance_id,
            execution_id=execution_id,
            parent=parent,
        )
        self._store.enqueue(instance.instance_id, EVENT, start, execution_id)
        return dataclasses.replace(
            instance,
            execution_id=execution_id,
            runtime_status=CONTINUED_AS_NEW,
            input=execution_input,
            output=None,
            sequencer=None,
        )

    def _finish(
        self, instance: Instance, *, result: str | None = None, failed: tuple[str, str] | None = None
    ) -> None:
        """Drop a finished instance's pending work and report to its parent orchestration, if any."""
        self._store.clear_pending(instance.instance_id)
        if instance.parent_instance_id is None:
            return
        assert instance.parent_execution_id is not None and instance.parent_task_id is not None
        if failed is None:
            report = h.event(
                EventType.SUB_ORCHESTRATION_COMPLETED,
                h.utc_now(),
                TaskScheduledId=instance.parent_task_id,
                Result=result,
            )
        else:
            report = h.event(
                EventType.SUB_ORCHESTRATION_FAILED,
                h.utc_now(),
                TaskScheduledId=instance.parent_task_id,
                Reason=failed[0],
                Details=failed[1],
            )
        self._deliver(instance.parent_instance_id, instance.parent_execution_id, report)

    def _terminate(self, instance: Instance, reason: str) -> None:
        now = h.utc_now()
        past = self._store.history(instance.instance_id)
        started = h.event(EventType.ORCHESTRATOR_STARTED, _episode_time(past, []))
        terminated = h.event(EventType.EXECUTION_TERMINATED, now, Input=reason)
        updated = dataclasses.replace(
            instance,
            runtime_status=TERMINATED,
            output=json.dumps(reason),
            last_updated_time=h.format_timestamp(now),
        )
        with self._store.transaction():
            self._store.append_history(
                instance.instance_id, [started, terminated, h.event(EventType.ORCHESTRATOR_COMPLETED, now)]
            )
            self._store.put_instance(updated)
            self._finish(updated, failed=(f"Orchestration terminated: {reason}", reason))
        self._orchestrations_ready.set()
        logger.info("durable: instance '%s' (%s) terminated: %s", instance.instance_id, instance.name, reason)

    # Activities

    async def _activity(self, work: ActivityWork) -> None:
        try:
            await self._run_activity(work)
            self._activity_backoff.succeeded(work.id)
        except Exception:
            logger.exception(
                "durable: activity %s of instance '%s' failed in devhost", work.name, work.instance_id
            )
            self._activity_backoff.failed(work.id)
        finally:
            del self._activity_runs[work.id]
            self._activities_ready.set()

    async def _run_activity(self, work: ActivityWork) -> None:
        spec = self._functions.activity(work.name)
        invocation_id = self._invoker.new_invocation_id()
        clock = time.perf_counter()
        outcome = INVOCATION_FAILED
        if spec is None:
            reason = f"The activity function '{work.name}' doesn't exist in this app"
            result = h.event(
                EventType.TASK_FAILED,
                h.utc_now(),
                TaskScheduledId=work.task_id,
                Reason=reason,
                Details=reason,
            )
        else:
            try:
                encoded = await self._call_activity(spec, work, invocation_id)
                result = h.event(
                    EventType.TASK_COMPLETED, h.utc_now(), TaskScheduledId=work.task_id, Result=encoded
                )
                outcome = SUCCEEDED
            except Exception as exc:
                logger.warning(
                    "Exception while executing activity %s (instance '%s', id=%s)",
                    work.name,
                    work.instance_id,
                    invocation_id,
                    exc_info=True,
                )
                result = h.event(
                    EventType.TASK_FAILED,
                    h.utc_now(),
                    TaskScheduledId=work.task_id,
                    Reason=f"Activity function '{work.name}' failed: {_message(exc)}",
                    Details=exc.stack_trace if isinstance(exc, FunctionFailed) else _message(exc),
                )
        with self._store.transaction():
            # Gone means its instance was terminated, purged or restarted meanwhile: drop the result.
            if self._store.delete_activity(work.id):
                self._deliver(work.instance_id, work.execution_id, result)
        self._orchestrations_ready.set()
        if spec is not None:
            log_invocation(
                spec,
                trigger="activity",
                detail=f"instance '{work.instance_id}' task {work.task_id}",
                outcome=outcome,
                duration_ms=(time.perf_counter() - clock) * 1000,
                invocation_id=invocation_id,
            )

    async def _call_activity(self, spec: FunctionSpec, work: ActivityWork, invocation_id: str) -> str:
        """The activity's result as JSON text; the worker decodes the input and encodes the result."""
        trigger_input = typed_json("null" if work.input is None else work.input)
        invocation = await self._invoker.invoke(spec, invocation_id, trigger_input)
        return text_of(invocation.return_value) or "null"

    # Client operations (called by the HTTP API, on the loop's thread)

    def start(self, name: str, instance_id: str | None, input_text: str | None, version: str | None) -> str:
        """Create (or replace a finished) instance; returns its id."""
        spec = self._functions.orchestrator(name)
        if spec is None:
            raise UnknownOrchestrator(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function."
            )
        instance_id = instance_id or uuid.uuid4().hex
        problem = validate_instance_id(instance_id)
        if problem is not None:
            raise InvalidInstanceId(problem)
        with self._store.transaction():
            existing = self._store.instance(instance_id)
            if existing is not None and not existing.is_terminal and not self._options.overwrite_running:
                raise InstanceExists(
                    f"An Orchestration instance with the status {existing.runtime_status} already exists."
                )
            self._start_instance(
                instance_id=instance_id,
                name=orchestrator_name(spec),
                version=self._options.default_version if version is None else version,
                input_text=input_text,
                parent=None,
            )
        self._orchestrations_ready.set()
        return instance_id

    def _start_instance(
        self,
        *,
        instance_id: str,
        name: str,
        version: str,
        input_text: str | None,
        parent: tuple[Instance, int] | None,
    ) -> None:
        """Inside a transaction: a fresh Pending instance whose first message is ExecutionStarted."""
        now = h.utc_now()
        stamp = h.format_timestamp(now)
        execution_id = uuid.uuid4().hex
        self._store.clear_execution(instance_id)
        self._store.clear_pending(instance_id)
        parent_event = None
        if parent is not None:
            parent_row, task_id = parent
            parent_event = h.parent_instance(
                name=parent_row.name,
                instance_id=parent_row.instance_id,
                execution_id=parent_row.execution_id,
                task_id=task_id,
            )
        self._store.put_instance(
            Instance(
                instance_id=instance_id,
                name=name,
                version=version,
                execution_id=execution_id,
                runtime_status=PENDING,
                input=input_text,
                output=None,
                custom_status=None,
                created_time=stamp,
                last_updated_time=stamp,
                parent_instance_id=parent[0].instance_id if parent else None,
                parent_execution_id=parent[0].execution_id if parent else None,
                parent_task_id=parent[1] if parent else None,
                sequencer=None,
            )
        )
        start = h.execution_started(
            now,
            name=name,
            version=version,
            input_text=input_text,
            instance_id=instance_id,
            execution_id=execution_id,
            parent=parent_event,
        )
        self._store.enqueue(instance_id, EVENT, start, execution_id)

    def instance(self, instance_id: str) -> Instance | None:
        return self._store.instance(instance_id)

    def history(self, instance_id: str) -> list[HistoryEvent]:
        return self._store.history(instance_id)

    def instances(self, query: InstanceQuery) -> list[Instance]:
        return self._store.instances(query)

    def raise_event(self, instance_id: str, name: str, input_text: str | None) -> Outcome:
        raised = h.event(EventType.EVENT_RAISED, h.utc_now(), Name=name, Input=input_text)
        return self._control(instance_id, EVENT, raised)

    def terminate(self, instance_id: str, reason: str) -> Outcome:
        return self._control(instance_id, TERMINATE, reason)

    def suspend(self, instance_id: str, reason: str) -> Outcome:
        return self._control(instance_id, SUSPEND, reason)

    def resume(self, instance_id: str, reason: str) -> Outcome:
        return self._control(instance_id, RESUME, reason)

    def _control(self, instance_id: str, kind: str, payload: Any) -> Outcome:
        instance = self._store.instance(instance_id)
        if instance is None:
            return Outcome.NOT_FOUND
        if instance.is_terminal:
            return Outcome.GONE
        with self._store.transaction():
            self._store.enqueue(instance_id, kind, payload)
        self._orchestrations_ready.set()
        return Outcome.ACCEPTED

    def purge(self, instance_id: str) -> Outcome:
        instance = self._store.instance(instance_id)
        if instance is None:
            return Outcome.NOT_FOUND
        if not instance.is_terminal:
            return Outcome.NOT_TERMINAL
        with self._store.transaction():
            self._store.delete_instance(instance_id)
        return Outcome.ACCEPTED

    def purge_where(self, query: InstanceQuery) -> int:
        """Delete the finished instances matching ``query``; running ones are never purged."""
        doomed = [instance.instance_id for instance in self._store.instances(query) if instance.is_terminal]
        with self._store.transaction():
            for instance_id in doomed:
                self._store.delete_instance(instance_id)
        return len(doomed)

    def in_flight(self) -> int:
        """Instances not finished yet (for the start-up log line)."""
        statuses = frozenset({PENDING, RUNNING, SUSPENDED, CONTINUED_AS_NEW})
        return len(self._store.instances(InstanceQuery(statuses=statuses)))


@contextlib.contextmanager
def _logged(what: str) -> Iterator[None]:
    """Keep a dispatch loop alive through a failure of devhost's own (the loop polls again later)."""
    try:
        yield
    except Exception:
        logger.exception("durable: %s failed", what)


def orchestrator_name(spec: FunctionSpec) -> str:
    return str(spec.trigger.raw.get("orchestration") or spec.name)


def activity_name(spec: FunctionSpec) -> str:
    return str(spec.trigger.raw.get("activity") or spec.name)


def _plan_batch(status: str, messages: list[Message], stale: list[int]) -> _Batch:
    """Which messages this episode delivers, honouring suspension.

    A suspended instance takes nothing until asked to resume; a suspend request stops delivery at
    that point, later messages wait for the resume. ExecutionStarted always leads: a continued
    execution's start is enqueued after raised events it must precede.
    """
    ordered = sorted(messages, key=lambda m: (not _is_execution_start(m), m.id))
    consumed = list(stale)
    events: list[HistoryEvent] = []
    now = h.utc_now()
    if status == SUSPENDED:
        resume = next((m for m in ordered if m.kind == RESUME), None)
        if resume is None:
            return _Batch([], consumed + [m.id for m in ordered if m.kind == SUSPEND], status)
        events.append(h.event(EventType.EXECUTION_RESUMED, now, Reason=str(resume.payload)))
        consumed.append(resume.id)
        ordered = [m for m in ordered if m is not resume]
        status = RUNNING
    for message in ordered:
        if message.kind == EVENT:
            events.append(message.payload)
        elif message.kind == SUSPEND:
            events.append(h.event(EventType.EXECUTION_SUSPENDED, now, Reason=str(message.payload)))
            consumed.append(message.id)
            return _Batch(events, consumed, SUSPENDED)
        # A resume of an instance that is not suspended changes nothing.
        consumed.append(message.id)
    return _Batch(events, consumed, RUNNING)


def _is_execution_start(message: Message) -> bool:
    return message.kind == EVENT and message.payload.get("EventType") == EventType.EXECUTION_STARTED


def _episode_time(past: list[HistoryEvent], new_events: list[HistoryEvent]) -> datetime:
    """The episode's OrchestratorStarted timestamp: the orchestrator's current_utc_datetime.

    Never earlier than the previous episode's, and never earlier than the fireAt of a timer it
    delivers: with a timer scale the wall clock lags, but the orchestrator must see its timer as due.
    """
    moment = h.utc_now()
    previous = h.last_orchestrator_started(past)
    if previous is not None:
        moment = max(moment, previous + timedelta(microseconds=1))
    for item in new_events:
        if item["EventType"] == EventType.TIMER_FIRED:
            moment = max(moment, h.parse_timestamp(item["FireAt"]))
    return moment


def _refusal(scheduled: Scheduled) -> str | None:
    """Why the extension would refuse this new task, if it would."""
    if isinstance(scheduled, Unsupported):
        return scheduled.what
    if isinstance(scheduled, NewSubOrchestration):
        problem = validate_instance_id(scheduled.instance_id)
        if problem is not None:
            return f"sub-orchestration instance id {scheduled.instance_id!r}: {problem}"
    return None


def _message(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _nondeterminism(
    reply: OrchestratorReply, state: SequencerState, past: list[HistoryEvent]
) -> tuple[str, str] | None:
    problem = nondeterminism(reply.actions, state, past)
    if problem is None:
        return None
    return f"Non-Deterministic workflow detected: {problem}", problem
