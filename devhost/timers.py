"""Timer triggers: NCRONTAB or TimeSpan schedules, ``runOnStartup``, one invocation at a time.

Schedules are read as the Functions host reads them: six fields (``{second} {minute} {hour} {day}
{month} {day-of-week}``), five fields (no seconds), or a TimeSpan interval such as ``00:05:00``.
Day-of-month and day-of-week must both match (NCrontab's rule, unlike classic cron's "either").
Times are UTC. Like the host, invocations of one timer never overlap: the next occurrence is the
first one after the previous invocation ends, and a failure is logged, not retried. The schedule
monitor lives in memory only, so ``past_due`` is always False.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web

from devhost.appsettings import resolve_setting_expressions
from devhost.background import Stopping
from devhost.errors import StartupError
from devhost.invocation import FAILED, INJECTED_BINDINGS, SUCCEEDED, Invoker, log_failure, log_invocation
from devhost.loader import BindingSpec, FunctionSpec
from devhost.timespan import parse_timespan
from devhost.worker import typed_json

logger = logging.getLogger(__name__)

TIMER_TRIGGER = "timerTrigger"
# The host monitors schedules whose occurrences are at least this far apart, unless told otherwise.
MONITOR_THRESHOLD = timedelta(minutes=1)
# What the host reports as "Last" before a timer's first invocation (.NET's DateTime.MinValue).
NEVER = "0001-01-01T00:00:00"


@dataclass(frozen=True)
class CronSchedule:
    text: str
    with_seconds: bool

    def next_after(self, moment: datetime) -> datetime:
        from croniter import croniter

        # day_or=False: NCrontab requires day-of-month and day-of-week to match both.
        cron = croniter(self.text, moment, day_or=False, second_at_beginning=self.with_seconds)
        following: datetime = cron.get_next(datetime)
        return following


@dataclass(frozen=True)
class IntervalSchedule:
    text: str
    interval: timedelta

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.interval


def parse_schedule(text: str) -> CronSchedule | IntervalSchedule:
    """A timer's schedule; ValueError if it is neither an NCRONTAB expression nor a TimeSpan."""
    fields = text.split()
    if len(fields) in (5, 6):
        from croniter import croniter

        with_seconds = len(fields) == 6
        normalized = " ".join(fields)
        if not croniter.is_valid(normalized, second_at_beginning=with_seconds):
            raise ValueError(f"invalid NCRONTAB expression: {text!r}")
        return CronSchedule(normalized, with_seconds)
    try:
        interval = parse_timespan(text)
    except ValueError:
        raise ValueError(
            f"schedule {text!r} is neither an NCRONTAB expression "
            "('{second} {minute} {hour} {day} {month} {day-of-week}') nor a TimeSpan ('hh:mm:ss')"
        ) from None
    if interval <= timedelta(0):
        raise ValueError(f"a TimeSpan schedule must be positive: {text!r}")
    return IntervalSchedule(text.strip(), interval)


@dataclass(frozen=True)
class TimerFunction:
    spec: FunctionSpec
    schedule: CronSchedule | IntervalSchedule
    run_on_startup: bool
    use_monitor: bool


class TimerTriggers:
    """Serves every timerTrigger function of the app, one scheduling loop each."""

    trigger_type = TIMER_TRIGGER

    def __init__(
        self,
        invoker: Invoker,
        *,
        shutdown_grace_seconds: float,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self._invoker = invoker
        self._stopping = Stopping(shutdown_grace_seconds)
        self._environ = environ
        self._functions: list[TimerFunction] = []

    def accepts_binding(self, binding: BindingSpec) -> bool:
        return binding.type in INJECTED_BINDINGS

    def add_function(self, spec: FunctionSpec) -> None:
        where = f"function {spec.name}"
        text = resolve_setting_expressions(
            str(spec.trigger.raw.get("schedule") or ""), self._environ, where=where
        )
        try:
            schedule = parse_schedule(text)
        except ValueError as exc:
            raise StartupError(f"{where}: {exc}") from None
        use_monitor = spec.trigger.raw.get("useMonitor")
        if use_monitor is None:
            first = schedule.next_after(_utc_now())
            use_monitor = schedule.next_after(first) - first >= MONITOR_THRESHOLD
        self._functions.append(
            TimerFunction(
                spec=spec,
                schedule=schedule,
                run_on_startup=bool(spec.trigger.raw.get("runOnStartup")),
                use_monitor=bool(use_monitor),
            )
        )

    def describe(self, base_url: str) -> list[str]:
        return [
            f"{function.spec.name}: [timerTrigger] schedule '{function.schedule.text}'"
            + (", runs on startup" if function.run_on_startup else "")
            for function in sorted(self._functions, key=lambda f: f.spec.name)
        ]

    def setup(self, web_app: web.Application) -> None:
        if self._functions:
            self._stopping.attach(web_app)
            web_app.cleanup_ctx.append(self._schedule)

    async def _schedule(self, _web_app: web.Application) -> AsyncIterator[None]:
        loops = [
            asyncio.create_task(self._run(function), name=f"timer {function.spec.name}")
            for function in self._functions
        ]
        try:
            yield
        finally:
            await self._stopping.drain(loops, "timer invocations")

    async def _run(self, function: TimerFunction) -> None:
        schedule = function.schedule
        previous: datetime | None = None
        status = _status(last=None, due=schedule.next_after(_utc_now())) if function.use_monitor else {}
        if function.run_on_startup:
            await self._fire(function, None, status)
        while True:
            # Never before the previous occurrence: a wake-up a hair early must not fire it twice.
            now = _utc_now()
            due = schedule.next_after(max(now, previous) if previous else now)
            if await self._sleep_until(due):
                return
            await self._fire(function, due, status)
            previous = due
            if function.use_monitor:
                status = _status(last=due, due=schedule.next_after(due))

    async def _sleep_until(self, due: datetime) -> bool:
        """Sleep until the wall clock reaches ``due``; True if the host is stopping instead."""
        while (remaining := (due - _utc_now()).total_seconds()) > 0:
            if await self._stopping.sleep(remaining):
                return True
        return self._stopping.is_set()

    async def _fire(self, function: TimerFunction, due: datetime | None, status: dict[str, str]) -> None:
        spec = function.spec
        # The timer's info as the host sends it (the SDK's TimerRequestConverter decodes it).
        request = typed_json(
            json.dumps(
                {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": status or None, "IsPastDue": False}
            )
        )
        invocation_id = self._invoker.new_invocation_id()
        started = time.perf_counter()
        try:
            await self._invoker.invoke(spec, invocation_id, request)
            outcome = SUCCEEDED
        except Exception as exc:
            # Logged only: the host does not retry a failed timer invocation.
            log_failure(spec, invocation_id, exc)
            outcome = FAILED
        log_invocation(
            spec,
            trigger="timer",
            detail=f"schedule '{function.schedule.text}' "
            + (f"due {_iso(due)}" if due is not None else "on startup"),
            outcome=outcome,
            duration_ms=(time.perf_counter() - started) * 1000,
            invocation_id=invocation_id,
        )


def _status(*, last: datetime | None, due: datetime) -> dict[str, str]:
    # ScheduleStatus as the host's monitor reports it to the next invocation.
    return {"Last": _iso(last) if last else NEVER, "Next": _iso(due), "LastUpdated": _iso(_utc_now())}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _utc_now() -> datetime:
    return datetime.now(UTC)
