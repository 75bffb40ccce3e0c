"""Durable options: host.json ``extensions.durableTask`` plus devhost's own settings.

Read once at start-up, after local.settings.json has been applied to the environment, so its
``Values`` can set the ``DEVHOST_DURABLE_*`` settings too.

The long-timer limits are devhost settings because the extension has no option for them: they
are properties of its storage provider, fixed in code (Azure Storage: 6 days maximum timer,
3-day intervals), and only its own tests change them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from devhost.appsettings import resolve_setting_expressions
from devhost.durable.orchestrator import TimerLimits
from devhost.errors import StartupError
from devhost.timespan import format_timespan, parse_timespan

DB_VARIABLE = "DEVHOST_DURABLE_DB"
TIMER_SCALE_VARIABLE = "DEVHOST_DURABLE_TIMER_SCALE"
# The context fields maximumShortTimerDuration and longRunningTimerIntervalDuration, as TimeSpans.
MAXIMUM_SHORT_TIMER_VARIABLE = "DEVHOST_DURABLE_MAXIMUM_SHORT_TIMER_DURATION"
LONG_TIMER_INTERVAL_VARIABLE = "DEVHOST_DURABLE_LONG_RUNNING_TIMER_INTERVAL_DURATION"
# Relative to the app folder; the repository ignores *.sqlite3 files.
DEFAULT_DB_PATH = Path(".devhost") / "durable.sqlite3"
# Core Tools' task hub name when host.json names none.
DEFAULT_HUB_NAME = "TestHubName"
# The Durable extension's defaults: ten of each per processor.
_PER_PROCESSOR = 10
# overridableExistingInstanceStates: which existing instances start_new may replace.
NON_RUNNING_STATES = "NonRunningStates"
ANY_STATE = "AnyState"


@dataclass(frozen=True)
class DurableOptions:
    hub_name: str
    db_path: Path
    timer_scale: float
    max_concurrent_activities: int
    max_concurrent_orchestrators: int
    # True when start_new may replace a running instance (overridableExistingInstanceStates: AnyState).
    overwrite_running: bool
    default_version: str
    timer_limits: TimerLimits

    @classmethod
    def load(cls, app_dir: Path, host_json: Mapping[str, Any], environ: Mapping[str, str]) -> DurableOptions:
        section = (host_json.get("extensions") or {}).get("durableTask") or {}
        if not isinstance(section, dict):
            raise StartupError("host.json: extensions.durableTask must be an object")
        default_concurrency = _PER_PROCESSOR * (os.cpu_count() or 1)
        overridable = section.get("overridableExistingInstanceStates", NON_RUNNING_STATES)
        if overridable not in (NON_RUNNING_STATES, ANY_STATE):
            raise StartupError(
                "host.json: extensions.durableTask.overridableExistingInstanceStates must be "
                f"{NON_RUNNING_STATES} or {ANY_STATE}"
            )
        db_setting = environ.get(DB_VARIABLE)
        db_path = Path(db_setting) if db_setting else DEFAULT_DB_PATH
        return cls(
            # `%SETTING%` names an app setting, as in the host (a task hub per environment).
            hub_name=resolve_setting_expressions(
                str(section.get("hubName") or DEFAULT_HUB_NAME),
                environ,
                where="host.json durableTask.hubName",
            ),
            db_path=db_path if db_path.is_absolute() else app_dir / db_path,
            timer_scale=_timer_scale(environ.get(TIMER_SCALE_VARIABLE)),
            max_concurrent_activities=_positive(
                section, "maxConcurrentActivityFunctions", default_concurrency
            ),
            max_concurrent_orchestrators=_positive(
                section, "maxConcurrentOrchestratorFunctions", default_concurrency
            ),
            overwrite_running=overridable == ANY_STATE,
            default_version=str(section.get("defaultVersion") or ""),
            timer_limits=_timer_limits(environ),
        )


def _positive(section: Mapping[str, Any], key: str, default: int) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise StartupError(f"host.json: extensions.durableTask.{key} must be a positive integer")
    return value


def _timer_scale(text: str | None) -> float:
    if not text:
        return 1.0
    try:
        scale = float(text)
    except ValueError:
        raise StartupError(f"{TIMER_SCALE_VARIABLE} must be a number, got {text!r}") from None
    if not math.isfinite(scale) or scale <= 0:
        raise StartupError(f"{TIMER_SCALE_VARIABLE} must be a positive number, got {text!r}")
    return scale


def _timer_limits(environ: Mapping[str, str]) -> TimerLimits:
    defaults = TimerLimits()
    maximum_short = _span(environ, MAXIMUM_SHORT_TIMER_VARIABLE, defaults.maximum_short)
    interval = _span(environ, LONG_TIMER_INTERVAL_VARIABLE, defaults.interval)
    if interval > maximum_short:
        # Every link of a split timer would itself be longer than the backend allows.
        raise StartupError(
            f"{LONG_TIMER_INTERVAL_VARIABLE} ({format_timespan(interval)}) must not exceed "
            f"{MAXIMUM_SHORT_TIMER_VARIABLE} ({format_timespan(maximum_short)})"
        )
    return TimerLimits(maximum_short=maximum_short, interval=interval)


def _span(environ: Mapping[str, str], variable: str, default: timedelta) -> timedelta:
    text = environ.get(variable)
    if not text:
        return default
    try:
        span = parse_timespan(text)
    except ValueError as exc:
        raise StartupError(f"{variable}: {exc}") from None
    if span <= timedelta(0):
        raise StartupError(f"{variable} must be a positive TimeSpan, got {text!r}")
    return span
