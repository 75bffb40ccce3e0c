"""Durable Functions on devhost, through the unmodified SDK client: each orchestration feature end to end."""

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devhost.testing import DevhostStartupError, run_devhost

from .durable_support import STATUS_API, DurableDriver, durable_app, wait_until
from .sample_apps import copy_app

# Durable timers of the sample orchestrations take a fiftieth of their time.
TIMER_SCALE = "0.02"


@pytest.fixture(scope="module")
def log_file(module_tmp: Path) -> Path:
    return module_tmp / "activities.log"


@pytest.fixture(scope="module")
def app(module_tmp: Path, log_file: Path) -> Iterator[DurableDriver]:
    env = {
        "DURABLE_APP_LOG": str(log_file),
        "DEVHOST_DURABLE_TIMER_SCALE": TIMER_SCALE,
        "DURABLE_APP_TIMER_START": "1",
    }
    with durable_app(module_tmp, env=env, log_path=module_tmp / "host.log") as driver:
        yield driver


def test_activities_run_in_sequence_and_the_output_is_the_orchestrators_return_value(app):
    instance_id = app.start("sequence", ["Tokyo", "Seattle"])

    status = app.wait(instance_id)

    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["Hello Tokyo!", "Hello Seattle!"]
    assert status["name"] == "sequence"
    # start_new encodes the input twice; the status shows it as the extension does, as JSON text.
    assert status["input"] == '["Tokyo", "Seattle"]'
    assert status["createdTime"].endswith("Z")


def test_check_status_response_points_at_devhost_and_accepts_any_code(app):
    response = app.http.post("/api/start/sequence/check-status", content=b'["Oslo"]')

    assert response.status_code == 202
    body = response.json()
    assert body["id"] == "check-status"
    location = response.headers["location"]
    assert location == body["statusQueryGetUri"]
    assert location.startswith(f"{app.host.base_url}{STATUS_API}/instances/check-status?")
    assert "/raiseEvent/{eventName}" in body["sendEventPostUri"]
    app.wait("check-status")
    followed = httpx.get(location.replace("code=devhost", "code=whatever"))
    assert followed.status_code == 200
    assert followed.json()["output"] == ["Hello Oslo!"]


def test_status_of_an_unknown_instance_is_a_404(app):
    assert app.http.get(f"{STATUS_API}/instances/no-such-instance").status_code == 404
    assert app.http.get("/api/status/no-such-instance").json() == {"found": False}


def test_client_get_status_reports_the_running_instance(app):
    instance_id = app.start("waiter", instance_id="observed")
    app.wait(instance_id, until=lambda s: s["runtimeStatus"] == "Running")

    seen = app.http.get(f"/api/status/{instance_id}").json()

    assert seen["runtimeStatus"] == "Running"
    assert seen["instanceId"] == "observed"
    app.http.post(f"/api/manage/terminate/{instance_id}")


def test_fan_out_runs_every_activity_and_task_all_gathers_the_results(app):
    assert app.run("fan_out", 30)["output"] == sum(n * n for n in range(30))


def test_activity_concurrency_is_capped_by_host_json(app, log_file):
    app.run("throttled", 12)

    intervals: dict[str, list[float]] = {}
    for line in log_file.read_text().splitlines():
        if line.startswith("slow "):
            _, _edge, n, moment = line.split()
            intervals.setdefault(n, []).append(float(moment))
    edges = sorted(
        [(start, 1) for start, _ in intervals.values()] + [(end, -1) for _, end in intervals.values()]
    )
    running = peak = 0
    for _, change in edges:
        running += change
        peak = max(peak, running)
    # host.json: maxConcurrentActivityFunctions = 4; twelve 0.2 s activities do reach it.
    assert peak == 4


def test_a_failed_activity_raises_in_the_orchestrator_with_the_extensions_reason(app):
    output = app.run("activity_failure")["output"]

    assert output.startswith("Activity function 'boom' failed: ValueError: kaboom \n ")
    assert "ValueError: kaboom" in output


def test_retried_activities_succeed_after_failures_and_numbering_survives_parallel_retries(app, log_file):
    spec = {"key": "ok", "fail_times": 2, "attempts": 3, "interval_ms": 1000}

    status = app.run("retries", spec)

    assert status["output"] == {
        "results": ["ok-a ok after 3", "ok-b ok after 3"],
        "after": "Hello after retries!",
    }
    history = app.history(status["instanceId"])
    retry_timers = [e for e in history if e["EventType"] == "TimerCreated"]
    assert len(retry_timers) == 4  # two failures of each activity
    assert log_file.read_text().count("flaky ok-a\n") == 3


def test_retries_give_up_after_the_last_attempt(app, log_file):
    spec = {"key": "never", "fail_times": 99, "attempts": 2, "interval_ms": 500}

    status = app.run("retries", spec)

    # Whichever of the two parallel activities runs out of attempts first fails the task_all.
    assert re.fullmatch(
        r"Activity function 'flaky' failed: RuntimeError: attempt 2 of never-[ab] failed ",
        status["output"]["failed"],
    )
    assert log_file.read_text().count("flaky never-a\n") == 2


def test_a_durable_timer_delays_the_orchestration(app):
    assert app.run("timer", 5)["output"] == {"waited_at_least": True}


def test_an_external_event_wins_against_a_timeout_and_sets_custom_status(app):
    instance_id = app.start("approval", 600)
    app.wait(instance_id, until=lambda s: s["customStatus"] == "waiting for approval")

    response = app.http.post(f"/api/event/{instance_id}/approve", json={"by": "alice"})

    assert response.status_code == 202
    status = app.wait(instance_id)
    # The client sends event data JSON-encoded twice, so the orchestrator receives JSON text.
    assert status["output"] == {"approved_by": '{"by": "alice"}'}
    assert status["customStatus"] == "approved"


def test_a_timeout_wins_when_no_event_arrives(app):
    status = app.run("approval", 1)

    assert status["output"] == {"approved_by": None}
    assert status["customStatus"] == "timed out"


def test_an_event_raised_before_the_orchestrator_waits_is_kept(app):
    instance_id = app.start("waiter")
    for item in ("early", "stop"):
        assert app.http.post(f"/api/event/{instance_id}/item", json=item).status_code == 202

    assert app.wait(instance_id)["output"] == ["early"]


def test_sub_orchestrations_return_results_and_report_failures(app):
    status = app.run("parent", instance_id="family")

    assert status["output"] == {
        "children": [
            {"n": 2, "squared": 4, "parent": "family"},
            {"n": 3, "squared": 9, "parent": "family"},
        ],
        "failure": "Orchestrator function 'failing' failed: orchestrator gave up ",
    }
    assert app.status("family-child")["runtimeStatus"] == "Completed"


def test_a_failing_orchestrator_ends_failed_with_the_error_as_output(app):
    status = app.run("failing")

    assert status["runtimeStatus"] == "Failed"
    assert status["output"] == "Orchestrator function 'failing' failed: orchestrator gave up"


def test_continue_as_new_restarts_the_instance_with_new_input(app):
    status = app.run("counter", {"count": 0, "limit": 3, "seen": []}, instance_id="looping")

    assert status["output"] == {"count": 3, "limit": 3, "seen": ["looping"] * 4}
    # Each execution starts a fresh history: only the last one is left.
    assert app.history("looping")[1]["EventType"] == "ExecutionStarted"
    assert sum(e["EventType"] == "ExecutionStarted" for e in app.history("looping")) == 1


def test_terminate_ends_a_running_instance_with_the_reason_as_output(app):
    instance_id = app.start("waiter")
    app.wait(instance_id, until=lambda s: s["runtimeStatus"] == "Running")

    assert app.http.post(f"/api/manage/terminate/{instance_id}").status_code == 202

    status = app.wait(instance_id)
    assert status["runtimeStatus"] == "Terminated"
    assert status["output"] == "stopped by test"
    # Terminating a finished instance is not an error for the client (410 Gone).
    assert app.http.post(f"/api/manage/terminate/{instance_id}").status_code == 202
    assert app.http.post(f"{STATUS_API}/instances/{instance_id}/terminate").status_code == 410


def test_suspend_holds_events_until_resume(app):
    instance_id = app.start("waiter")
    app.wait(instance_id, until=lambda s: s["runtimeStatus"] == "Running")
    app.http.post(f"/api/event/{instance_id}/item", json="before")
    app.wait(instance_id, until=lambda s: s["customStatus"] == {"items": ["before"]})

    app.http.post(f"/api/manage/suspend/{instance_id}")
    app.wait(instance_id, until=lambda s: s["runtimeStatus"] == "Suspended")
    app.http.post(f"/api/event/{instance_id}/item", json="during")
    app.http.post(f"/api/event/{instance_id}/item", json="stop")

    assert app.status(instance_id)["customStatus"] == {"items": ["before"]}
    app.http.post(f"/api/manage/resume/{instance_id}")
    status = app.wait(instance_id)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["before", "during"]


def test_start_new_refuses_a_running_instance_id_and_replaces_a_finished_one(app):
    app.start("waiter", instance_id="singleton")
    app.wait("singleton", until=lambda s: s["runtimeStatus"] == "Running")

    conflict = app.http.post("/api/start/sequence/singleton", content=b'["again"]')

    assert conflict.status_code == 500  # start_new raised: the extension answered 409
    direct = app.http.post(f"{STATUS_API}/orchestrators/sequence/singleton")
    assert direct.status_code == 409
    assert direct.json()["Message"] == "An Orchestration instance with the status Running already exists."
    assert app.status("singleton")["name"] == "waiter"
    app.http.post("/api/event/singleton/item", json="stop")
    app.wait("singleton")
    assert app.run("sequence", ["again"], instance_id="singleton")["output"] == ["Hello again!"]


def test_start_of_an_unknown_orchestrator_is_refused(app):
    response = app.http.post(f"{STATUS_API}/orchestrators/no_such_orchestrator")

    assert response.status_code == 400
    assert "no_such_orchestrator" in response.json()["ExceptionMessage"]


def test_purge_deletes_finished_instances_only(app):
    app.run("sequence", ["purged"], instance_id="to-purge")
    app.start("waiter", instance_id="still-running")
    app.wait("still-running", until=lambda s: s["runtimeStatus"] == "Running")

    assert app.http.post("/api/manage/purge/to-purge").json() == {"deleted": 1}
    assert app.status("to-purge") is None
    assert app.http.post("/api/manage/purge/to-purge").json() == {"deleted": 0}
    assert app.http.delete(f"{STATUS_API}/instances/still-running").status_code == 412
    app.http.post("/api/manage/terminate/still-running")


def test_status_queries_filter_by_status_and_prefix(app):
    for suffix in ("a", "b"):
        app.run("sequence", [suffix], instance_id=f"query-{suffix}")

    by_prefix = app.http.get("/api/instances", params={"prefix": "query-"}).json()
    completed = app.http.get("/api/instances", params={"status": "Completed"}).json()
    everything = app.http.get("/api/instances").json()

    assert sorted(s["instanceId"] for s in by_prefix) == ["query-a", "query-b"]
    assert {"query-a", "query-b"} <= {s["instanceId"] for s in completed}
    assert all(s["runtimeStatus"] == "Completed" for s in completed)
    assert len(everything) > len(completed)


def test_names_set_on_the_decorators_are_the_durable_names(app):
    assert app.run("Renamed", "quiet")["output"] == "QUIET"
    assert app.run("renamed", "case")["output"] == "CASE"  # names are case-insensitive


def test_an_activity_receives_a_durable_client_too(app):
    status = app.run("introspect", instance_id="self-aware")

    assert status["output"] == "self-aware is Running"


def test_a_timer_triggered_function_starts_an_orchestration_through_its_client(app):
    # run_on_startup: the timer fired when the host started.
    status = app.wait("started-by-timer")

    assert status["output"] == ["Hello timer!"]


@pytest.mark.parametrize("event_first", [True, False], ids=["event-then-failure", "failure-then-event"])
def test_a_retry_failure_and_an_event_in_one_episode_are_numbered_as_the_sdk_does(app, log_file, event_first):
    # Suspension holds the activity's failure and the event, so both reach the orchestrator in one
    # episode. The SDK numbers the retry timer when it replays the failure and the activity it
    # yields after the event when it replays the event: their order decides the numbers, and
    # devhost must agree or the orchestration would hang.
    gate = f"race-{event_first}"
    instance_id = app.start("race", gate)
    app.wait(instance_id, until=lambda s: s["runtimeStatus"] == "Running")
    app.http.post(f"/api/manage/suspend/{instance_id}")
    app.wait(instance_id, until=lambda s: s["runtimeStatus"] == "Suspended")
    if event_first:
        app.http.post(f"/api/event/{instance_id}/go", json="now")
    Path(f"{log_file}.{gate}.open").touch()
    # The activity's log line comes after its failure is committed.
    wait_until(lambda: f"Executed 'gated' [activity] instance '{instance_id}'" in app.host.log_text())
    if not event_first:
        app.http.post(f"/api/event/{instance_id}/go", json="now")
    app.http.post(f"/api/manage/resume/{instance_id}")

    status = app.wait(instance_id)

    assert status["output"] == {"winner": "event", "greeting": "Hello race!"}
    history = app.history(instance_id)
    resumed = next(i for i, e in enumerate(history) if e["EventType"] == "ExecutionResumed")
    delivered = [e["EventType"] for e in history[resumed + 1 : resumed + 3]]
    retry_timer, greeting = (2, 1) if event_first else (1, 2)
    assert delivered == (["EventRaised", "TaskFailed"] if event_first else ["TaskFailed", "EventRaised"])
    scheduled = {
        e["EventId"]: e.get("Name", "timer")
        for e in history
        if e["EventType"] in ("TimerCreated", "TaskScheduled")
    }
    assert scheduled == {0: "gated", retry_timer: "timer", greeting: "hello"}


def test_an_app_with_an_entity_is_refused_naming_the_function(module_tmp):
    app_dir = copy_app("durable_entity_app", module_tmp)

    with (
        pytest.raises(DevhostStartupError) as refused,
        run_devhost(app_dir, log_path=module_tmp / "entity.log"),
    ):
        pass

    assert "function counter: entityTrigger not supported by devhost" in str(refused.value)
