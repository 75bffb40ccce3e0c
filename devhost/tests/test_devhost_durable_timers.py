"""DEVHOST_DURABLE_TIMER_SCALE shortens the wall-clock wait of durable timers, not what orchestrators see."""

import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from .durable_support import DurableDriver, durable_app


@pytest.fixture(scope="module")
def app(module_tmp) -> Iterator[DurableDriver]:
    env = {"DEVHOST_DURABLE_TIMER_SCALE": "0.01", "DURABLE_APP_LOG": str(module_tmp / "activities.log")}
    with durable_app(module_tmp, env=env) as driver:
        yield driver


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_scaled_timer_fires_early_on_the_wall_clock_but_keeps_its_fire_time(app):
    began = time.monotonic()

    status = app.run("timer", 120)

    elapsed = time.monotonic() - began
    assert status["output"] == {"waited_at_least": True}  # the orchestrator saw two minutes pass
    assert 1.0 <= elapsed < 5.0  # 120 s x 0.01
    history = app.history(status["instanceId"])
    created = next(e for e in history if e["EventType"] == "TimerCreated")
    fired = next(e for e in history if e["EventType"] == "TimerFired")
    first_episode = _moment(history[0]["Timestamp"])
    assert _moment(created["FireAt"]) - first_episode == timedelta(seconds=120)
    assert fired["FireAt"] == created["FireAt"] and fired["TimerId"] == created["EventId"]
    # The episode that delivers the timer starts no earlier than its fire time, so
    # current_utc_datetime never runs behind a timer the orchestrator has seen fire.
    resumed = [e for e in history if e["EventType"] == "OrchestratorStarted"][-1]
    assert _moment(resumed["Timestamp"]) >= _moment(created["FireAt"])


def test_retry_intervals_are_scaled_too(app):
    began = time.monotonic()

    status = app.run("retries", {"key": "scaled", "fail_times": 1, "attempts": 2, "interval_ms": 60_000})

    assert status["output"]["after"] == "Hello after retries!"
    assert time.monotonic() - began < 5.0  # a minute between attempts, 0.6 s on the wall clock
