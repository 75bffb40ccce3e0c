"""A devhost killed with SIGKILL mid-workflow resumes from its SQLite store when started again.

The workflow runs rounds of three 0.3 s activities, each round followed by a durable timer. The
host is killed twice: once while a round's activities run, once while a timer is pending. Each
activity appends a line to a log when it starts, so executions can be counted afterwards.

Guarantees shown: an activity whose completion was committed never runs again; an activity that
was running at the kill runs again (at-least-once: the kill lost its result); the pending timer
still fires; the workflow completes with every result.
"""

import json
import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path

from azure.durable_functions.models.history.HistoryEventType import HistoryEventType

from .durable_support import DurableDriver, durable_app
from .sample_apps import copy_app

PIPELINE = {"rounds": 3, "width": 3, "pause_seconds": 100}
# 100 s pauses take 0.8 s: long enough to kill the host during one (it is killed as it sees one begin).
ENV = {"DEVHOST_DURABLE_TIMER_SCALE": "0.008"}


def _committed_steps(db_path: Path) -> set[str]:
    """Steps whose completion is durable: in the history or waiting in the inbox."""
    with closing(sqlite3.connect(db_path)) as db:
        history = [json.loads(text) for (text,) in db.execute("SELECT event FROM history")]
        inbox = [json.loads(text) for (text,) in db.execute("SELECT payload FROM inbox WHERE kind = 'event'")]
        scheduled = {
            e["EventId"]: json.loads(json.loads(e["Input"])[0])
            for e in history
            if e["EventType"] == HistoryEventType.TASK_SCHEDULED
        }
    completed = [e for e in [*history, *inbox] if e["EventType"] == HistoryEventType.TASK_COMPLETED]
    return {scheduled[e["TaskScheduledId"]] for e in completed}


def _pending_timers(db_path: Path) -> int:
    with closing(sqlite3.connect(db_path)) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM timers").fetchone()
    return int(count)


def _starts(log_file: Path) -> Counter[str]:
    return Counter(
        line.split()[2] for line in log_file.read_text().splitlines() if line.startswith("step start")
    )


def _kill(app: DurableDriver) -> None:
    app.host.process.kill()
    app.host.process.wait(timeout=10)


def test_a_killed_host_resumes_every_workflow_without_rerunning_completed_activities(module_tmp):
    app_dir = copy_app("durable_app", module_tmp)
    log_file = module_tmp / "steps.log"
    db_path = app_dir / ".devhost" / "durable.sqlite3"
    env = {**ENV, "DURABLE_APP_LOG": str(log_file)}

    # Run 1: killed while round 1's activities run (round 0 is done, round 1 has started).
    with durable_app(app_dir, env=env, log_path=module_tmp / "run1.log") as app:
        app.start("pipeline", PIPELINE, instance_id="crash")
        app.wait("crash", until=lambda s: s["customStatus"] == "working 1")
        app.wait("crash", until=lambda _: "step start 1.0" in log_file.read_text())
        _kill(app)
    committed_at_first_kill = _committed_steps(db_path)
    assert {"0.0", "0.1", "0.2"} <= committed_at_first_kill
    assert not {"1.0", "1.1", "1.2"} <= committed_at_first_kill  # some of round 1 was in flight

    # Run 2: picks up round 1, then is killed while round 1's timer is pending.
    with durable_app(app_dir, env=env, log_path=module_tmp / "run2.log") as app:
        app.wait("crash", until=lambda s: s["customStatus"] == "waiting 1")
        _kill(app)
    assert _pending_timers(db_path) == 1
    committed_at_second_kill = _committed_steps(db_path)

    # Run 3: the timer fires and the workflow finishes.
    with durable_app(app_dir, env=env, log_path=module_tmp / "run3.log") as app:
        status = app.wait("crash", timeout=30)

    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == [f"{r}.{n}" for r in range(3) for n in range(3)]
    starts = _starts(log_file)
    assert set(starts) == {f"{r}.{n}" for r in range(3) for n in range(3)}
    in_flight_at_first_kill = {"1.0", "1.1", "1.2"} - committed_at_first_kill
    for step, count in starts.items():
        if step in in_flight_at_first_kill:
            assert count in (1, 2), f"step {step} ran {count} times"
        else:
            assert count == 1, f"step {step} ran {count} times"
    assert committed_at_second_kill >= {"1.0", "1.1", "1.2"}
    assert "1 unfinished instance(s)" in (module_tmp / "run3.log").read_text()
