"""Every history devhost writes replays through the SDK to the result devhost recorded.

A workload touching each feature runs on an unscaled host; afterwards each completed instance is
replayed in this process, episode by episode, with the app's own orchestrator functions. A task
numbered differently from the SDK would surface as an unmatched completion (the SDK warns) or as a
different output; a non-deterministic replay as actions that are not append-only.
"""

import json
import time
from typing import Any

from devhost.durable.history import EventType

from .durable_support import durable_app, finished_instances, load_orchestrators, replay
from .sample_apps import copy_app

WORKLOAD: list[tuple[str, Any]] = [
    ("sequence", ["Lisbon", "Porto"]),
    ("fan_out", 12),
    ("retries", {"key": "c", "fail_times": 1, "attempts": 3, "interval_ms": 50}),
    ("retries", {"key": "d", "fail_times": 9, "attempts": 2, "interval_ms": 50}),
    ("timer", 1),
    ("approval", 0.5),
    ("parent", None),
    ("activity_failure", None),
    ("counter", {"count": 0, "limit": 2, "seen": []}),
    ("Renamed", "loud"),
]


def _comparable(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Cancelling a timer flips its entry in place; everything else is append-only.
    return [
        {
            key: _comparable(value) if key == "compoundActions" else value
            for key, value in action.items()
            if key != "isCanceled"
        }
        for action in actions
    ]


def test_every_completed_history_replays_to_the_recorded_output(module_tmp):
    app_dir = copy_app("durable_app", module_tmp)
    env = {"DURABLE_APP_LOG": str(module_tmp / "activities.log")}
    with durable_app(app_dir, env=env) as app:
        began = time.monotonic()
        timer_id = app.start("timer", 1)
        ids = [app.start(name, payload) for name, payload in WORKLOAD]
        raised = app.start("approval", 60)
        app.wait(raised, until=lambda s: s["customStatus"] == "waiting for approval")
        app.http.post(f"/api/event/{raised}/approve", json="bob")
        for instance_id in [timer_id, *ids, raised]:
            assert app.wait(instance_id)["runtimeStatus"] == "Completed"
        timer_elapsed = time.monotonic() - began
    assert timer_elapsed >= 1.0  # unscaled: a one-second timer takes a second

    orchestrators = load_orchestrators(app_dir, "durable_app_conformance")
    finished = finished_instances(app_dir / ".devhost" / "durable.sqlite3")
    assert len(finished) == len(WORKLOAD) + 2 + 2  # plus the two children that complete
    for instance, history in finished:
        handle = orchestrators[instance.name]
        episode_starts = [
            i for i, e in enumerate(history) if e["EventType"] == EventType.ORCHESTRATOR_STARTED
        ]
        previous: list[dict[str, Any]] = []
        for start, end in zip(episode_starts, [*episode_starts[1:], len(history)], strict=True):
            # What the episode was given: the history up to its new events (devhost's own
            # scheduling events follow them).
            delivered = start + 1
            while delivered < end and history[delivered]["EventType"] not in (
                EventType.TASK_SCHEDULED,
                EventType.TIMER_CREATED,
                EventType.SUB_ORCHESTRATION_CREATED,
                EventType.EXECUTION_COMPLETED,
                EventType.ORCHESTRATOR_COMPLETED,
            ):
                delivered += 1
            reply = replay(handle, instance, history[:delivered])
            assert _comparable(reply.actions)[: len(previous)] == _comparable(previous), instance.instance_id
            previous = reply.actions
        final = replay(handle, instance, history)
        assert final.is_done, instance.instance_id
        assert final.output == json.loads(instance.output or "null"), instance.instance_id
        assert _comparable(final.actions) == _comparable(previous)
