"""Timer triggers: schedules as the Functions host reads them, and a host firing them for real."""

import itertools
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devhost.testing import run_devhost
from devhost.timers import CronSchedule, IntervalSchedule, parse_schedule

from .sample_apps import copy_app

RUN_SECONDS = 3.6


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        ("*/5 * * * * *", "2026-01-01T12:00:01", "2026-01-01T12:00:05"),
        ("*/1 * * * * *", "2026-01-01T12:00:01.500", "2026-01-01T12:00:02"),
        ("0 */5 * * * *", "2026-01-01T12:00:00", "2026-01-01T12:05:00"),
        ("0 30 9 * * 1-5", "2026-01-02T10:00:00", "2026-01-05T09:30:00"),  # Friday -> Monday
        ("0 30 9 * * MON", "2026-01-01T00:00:00", "2026-01-05T09:30:00"),
        # NCrontab: day-of-month AND day-of-week (the next Friday the 13th), not cron's OR.
        ("0 0 0 13 * 5", "2026-01-01T00:00:00", "2026-02-13T00:00:00"),
        ("*/10 * * * *", "2026-01-01T12:03:00", "2026-01-01T12:10:00"),  # five fields: no seconds
        ("00:00:10", "2026-01-01T12:00:01.250", "2026-01-01T12:00:11.250"),
        ("1.00:00:00", "2026-01-01T12:00:00", "2026-01-02T12:00:00"),
    ],
)
def test_next_occurrence(schedule, after, expected):
    assert parse_schedule(schedule).next_after(at(after)) == at(expected)


def test_schedule_kinds():
    assert parse_schedule(" 0  */5 * * * * ") == CronSchedule("0 */5 * * * *", with_seconds=True)
    assert parse_schedule("*/5 * * * *") == CronSchedule("*/5 * * * *", with_seconds=False)
    assert parse_schedule("00:05:00") == IntervalSchedule("00:05:00", timedelta(minutes=5))


@pytest.mark.parametrize(
    "schedule", ["", "every minute", "61 * * * * *", "* * * *", "* * * * * * *", "00:00:00"]
)
def test_invalid_schedules_are_refused(schedule):
    with pytest.raises(ValueError):
        parse_schedule(schedule)


def test_timers_fire_on_schedule_and_on_startup_and_failures_are_not_retried(module_tmp):
    app_dir = copy_app("timer_app", module_tmp)
    evidence = module_tmp / "evidence.jsonl"
    env = {"EVIDENCE_PATH": str(evidence), "BROKEN_SCHEDULE": "*/1 * * * * *"}
    log_path = module_tmp / "host.log"

    with run_devhost(app_dir, env=env, log_path=log_path) as host:
        started = time.time()
        time.sleep(RUN_SECONDS)
    log = log_path.read_text()
    runs = _runs(evidence)

    assert host.process.returncode == 0
    every_second = runs["every_second"]
    assert len(every_second) >= 3
    assert all(r["past_due"] is False and r["type"] == "TimerRequest" for r in every_second)
    # On whole seconds, once each.
    assert all(r["at"] % 1 < 0.3 for r in every_second), [r["at"] for r in every_second]
    seconds = [int(r["at"]) for r in every_second]
    assert seconds == sorted(set(seconds))
    assert all(0.5 < b["at"] - a["at"] < 1.5 for a, b in itertools.pairwise(every_second))

    (on_startup,) = runs["yearly_and_on_startup"]
    assert on_startup["at"] - started < 1.0
    # use_monitor=True: the schedule status as the host's monitor reports it before any occurrence.
    status = on_startup["schedule_status"]
    assert status["Last"] == "0001-01-01T00:00:00"
    assert status["Next"] == f"{datetime.now(UTC).year + 1}-01-01T00:00:00+00:00"
    assert every_second[0]["schedule_status"] == {}  # not monitored: occurrences under a minute apart
    assert "Executed 'yearly_and_on_startup' [timer] schedule '0 0 0 1 1 *' on startup (Succeeded" in log

    # A failing timer is logged and simply fires again at its next occurrence.
    broken = runs["broken"]
    assert len(broken) >= 3
    assert log.count("Executed 'broken' [timer] schedule '*/1 * * * * *' due ") == len(broken)
    assert log.count("(Failed,") == len(broken)
    assert "RuntimeError: timer failure" in log

    interval = runs["interval"]  # "00:00:01": every second from start-up
    assert len(interval) >= 3
    assert all(0.8 < b["at"] - a["at"] < 1.5 for a, b in itertools.pairwise(interval))


def _runs(evidence: Path) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {}
    for line in evidence.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        runs.setdefault(record["function"], []).append(record)
    return runs
