"""Long durable timers: the two long-timer fields devhost sends, and the split timers they cause.

The Durable extension tells the SDK its backend's timer limit (maximumShortTimerDuration) and the
interval to wait in when a timer is longer (longRunningTimerIntervalDuration). The SDK then waits
for a long timer in links: one interval after another, then the rest once it is within the limit,
each link a timer of its own (TimerCreated, then TimerFired, which creates the next link in the
same episode). The orchestrator's code resumes once, when the last link fires.

Here the limit is 10 s and the interval 4 s (a timer scale of 0.1 makes 25 s take 2.5 s), so a
25 s wait is links ending at 4, 8, 12 and 16 s (each time more than 10 s is left), then at 25 s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devhost.testing import DevhostStartupError, run_devhost

from .durable_support import DurableDriver, durable_app
from .sample_apps import copy_app

SCALE = 0.1
LIMITS = {
    "DEVHOST_DURABLE_MAXIMUM_SHORT_TIMER_DURATION": "00:00:10",
    "DEVHOST_DURABLE_LONG_RUNNING_TIMER_INTERVAL_DURATION": "00:00:04",
}
WAIT_SECONDS = 25
# Where each link ends, in seconds after the first episode.
LINK_ENDS = [4, 8, 12, 16, 25]


def _env(log_file: Path, scale: float = SCALE, limits: dict[str, str] = LIMITS) -> dict[str, str]:
    return {"DEVHOST_DURABLE_TIMER_SCALE": str(scale), "DURABLE_APP_LOG": str(log_file), **limits}


@pytest.fixture(scope="module")
def app(module_tmp: Path) -> Iterator[DurableDriver]:
    destination = module_tmp / "limits"
    destination.mkdir()
    env = _env(module_tmp / "activities.log")
    with durable_app(destination, env=env, log_path=module_tmp / "host.log") as driver:
        yield driver


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _episodes(history: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The history cut at each OrchestratorStarted."""
    episodes: list[list[dict[str, Any]]] = []
    for item in history:
        if item["EventType"] == "OrchestratorStarted":
            episodes.append([])
        episodes[-1].append(item)
    return episodes


def _shape(episode: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    keys = ("EventId", "TimerId", "TaskScheduledId")
    return [
        (item["EventType"], *(item[key] for key in keys if key in item and item[key] != -1))
        for item in episode
    ]


def assert_split_wait(history: list[dict[str, Any]], output: dict[str, Any]) -> None:
    """One 25 s timer, as the extension's history shows it: five linked timers, one resumption."""
    episodes = _episodes(history)
    links = len(LINK_ENDS)
    assert _shape(episodes[0]) == [
        ("OrchestratorStarted",),
        ("ExecutionStarted",),
        ("TimerCreated", 0),
        ("OrchestratorCompleted",),
    ]
    for k in range(links - 1):  # each link's firing creates the next, and nothing else happens
        assert _shape(episodes[1 + k]) == [
            ("OrchestratorStarted",),
            ("TimerFired", k),
            ("TimerCreated", k + 1),
            ("OrchestratorCompleted",),
        ]
    # The orchestrator resumes once: the last link's episode schedules the activity after the wait.
    assert _shape(episodes[links]) == [
        ("OrchestratorStarted",),
        ("TimerFired", links - 1),
        ("TaskScheduled", links),
        ("OrchestratorCompleted",),
    ]
    assert _shape(episodes[links + 1]) == [
        ("OrchestratorStarted",),
        ("TaskCompleted", links),
        ("ExecutionCompleted",),
        ("OrchestratorCompleted",),
    ]
    assert len(episodes) == links + 2
    started = _moment(history[0]["Timestamp"])
    created = {e["EventId"]: e for e in history if e["EventType"] == "TimerCreated"}
    assert [_moment(created[k]["FireAt"]) - started for k in range(links)] == [
        timedelta(seconds=end) for end in LINK_ENDS
    ]
    for episode in episodes[1 : links + 1]:
        fired = episode[1]
        assert fired["FireAt"] == created[fired["TimerId"]]["FireAt"]
        # Never fired or delivered before it is due.
        assert _moment(fired["Timestamp"]) >= _moment(fired["FireAt"])
        assert _moment(episode[0]["Timestamp"]) >= _moment(fired["FireAt"])
    assert _moment(output["started"]) == started
    assert _moment(output["resumed"]) == _moment(episodes[links][0]["Timestamp"])
    assert _moment(output["resumed"]) >= started + timedelta(seconds=WAIT_SECONDS)


def test_a_timer_longer_than_the_limit_waits_in_linked_timers_and_resumes_once(app, module_tmp):
    began = time.monotonic()

    status = app.run("long_wait", WAIT_SECONDS)

    elapsed = time.monotonic() - began
    assert status["runtimeStatus"] == "Completed", status
    assert_split_wait(app.history(status["instanceId"]), status["output"])
    assert status["output"]["greeting"] == f"Hello after {WAIT_SECONDS} s!"
    log = (module_tmp / "activities.log").read_text().splitlines()
    assert log.count(f"hello after {WAIT_SECONDS} s") == 1
    # Each link waits its own time: the whole wait takes 25 s on the orchestrator's clock.
    assert WAIT_SECONDS * SCALE * 0.95 <= elapsed < WAIT_SECONDS * SCALE + 3.0


def test_a_timer_within_the_limit_is_a_single_timer(app):
    status = app.run("long_wait", 10)  # exactly the limit: the SDK splits only longer timers

    history = app.history(status["instanceId"])
    timers = [e for e in history if e["EventType"] in ("TimerCreated", "TimerFired")]
    assert [(e["EventType"], e.get("EventId"), e.get("TimerId")) for e in timers] == [
        ("TimerCreated", 0, None),
        ("TimerFired", -1, 0),
    ]
    assert _moment(timers[0]["FireAt"]) - _moment(history[0]["Timestamp"]) == timedelta(seconds=10)


def test_a_split_timer_survives_a_killed_host(module_tmp):
    """Killed after the second link fired, the restarted host fires the rest from its store."""
    app_dir = copy_app("durable_app", module_tmp / "crash")
    env = _env(module_tmp / "crash.log")
    with durable_app(app_dir, env=env, log_path=module_tmp / "crash-1.log") as app:
        app.start("long_wait", WAIT_SECONDS, instance_id="split")
        fired = app.wait(
            "split", until=lambda s: any(e.get("TimerId") == 1 for e in app.history(s["instanceId"]))
        )
        app.host.process.kill()
        app.host.process.wait(timeout=10)
    assert fired["runtimeStatus"] == "Running"

    with durable_app(app_dir, env=env, log_path=module_tmp / "crash-2.log") as app:
        status = app.wait("split", timeout=30)
        history = app.history("split")

    assert status["runtimeStatus"] == "Completed", status
    assert_split_wait(history, status["output"])
    assert (module_tmp / "crash.log").read_text().splitlines().count(f"hello after {WAIT_SECONDS} s") == 1


def test_by_default_the_limits_are_the_azure_storage_backends(module_tmp):
    """6 days maximum, 3-day intervals: a wait of 6 days and 1 s is a 3-day timer, then the rest."""
    destination = module_tmp / "defaults"
    destination.mkdir()
    wait = timedelta(days=6, seconds=1)
    with durable_app(destination, env=_env(module_tmp / "defaults.log", scale=0.000002, limits={})) as app:
        status = app.run("long_wait", int(wait.total_seconds()))
        history = app.history(status["instanceId"])

    assert status["runtimeStatus"] == "Completed", status
    started = _moment(history[0]["Timestamp"])
    ends = [_moment(e["FireAt"]) - started for e in history if e["EventType"] == "TimerCreated"]
    assert ends == [timedelta(days=3), wait]


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (
            {**LIMITS, "DEVHOST_DURABLE_LONG_RUNNING_TIMER_INTERVAL_DURATION": "00:00:11"},
            "DEVHOST_DURABLE_LONG_RUNNING_TIMER_INTERVAL_DURATION (00:00:11) must not exceed "
            "DEVHOST_DURABLE_MAXIMUM_SHORT_TIMER_DURATION (00:00:10)",
        ),
        (
            {"DEVHOST_DURABLE_MAXIMUM_SHORT_TIMER_DURATION": "six days"},
            "DEVHOST_DURABLE_MAXIMUM_SHORT_TIMER_DURATION: not a TimeSpan",
        ),
        (
            {"DEVHOST_DURABLE_LONG_RUNNING_TIMER_INTERVAL_DURATION": "00:00:00"},
            "DEVHOST_DURABLE_LONG_RUNNING_TIMER_INTERVAL_DURATION must be a positive TimeSpan",
        ),
    ],
    ids=["interval-over-limit", "not-a-timespan", "zero-interval"],
)
def test_unusable_limits_refuse_to_start(tmp_path, limits, message):
    app_dir = copy_app("durable_app", tmp_path)

    with (
        pytest.raises(DevhostStartupError) as refused,
        run_devhost(app_dir, env=limits, log_path=tmp_path / "host.log"),
    ):
        pass

    assert message in str(refused.value)
