"""devhost's engine against the Durable SDK's own scenario tests (azure-functions-durable 1.7.0).

The SDK's tests (tests/orchestrator/ of its sdist, fetched from PyPI into .cache/) feed
hand-built histories to their scenario orchestrators and assert the SDK's reply. Here the same
generator functions run on devhost, end to end, with activities scripted to take each SDK test's
path (which attempts fail, in which order completions arrive); devhost alone writes the history.
That history must be one the SDK test describes:

- the completions the SDK reads (TaskCompleted/Failed, TimerFired, sub-orchestration results,
  EventRaised) arrive in the SDK test's order and name the same task ids (TaskScheduledId,
  TimerId), and the scheduling events carry those ids (EventId) and names;
- the tasks devhost scheduled are the actions the SDK replied with, in order, with their inputs;
- the outcome is the SDK's: its output, or a failure;
- for SDK tests whose episodes are realistic (sequences, sub-orchestrations, a single timer) the
  whole history matches event by event, OrchestratorStarted/Completed included;
- fire times follow the arithmetic, not the SDK test's clock (ContextBuilder stamps its own): a
  retry timer fires firstRetryIntervalInMilliseconds after the episode that saw the failure, a
  TimerFired repeats its TimerCreated's FireAt and is delivered no earlier.

Where the SDK test's history goes on after the SDK has decided (a task_any winner, a failed
task_all), devhost may stop earlier: it must reach at least the SDK's deciding completion.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.durable_functions.models.actions.ActionType import ActionType

from devhost.durable.history import EVENT_NAMES, EventType
from devhost.testing import RunningDevhost, run_devhost
from devhost.timespan import parse_timespan

from .durable_sdk import capture, import_path, sdk_tests_root
from .durable_support import STATUS_API, Until, finished, wait_for_status, wait_until
from .sample_apps import copy_app

# Retry timers (5 s in the SDK's scenarios) take 250 ms: far longer than the few episodes a
# scripted order of completions needs, so no timer overtakes them.
RETRY_TIMER_SCALE = "0.05"
# The timer scenarios wait minutes and hours: 20 h take 1.4 s.
TIMER_SCALE = 0.00002
SCHEDULING = frozenset({"TaskScheduled", "TimerCreated", "SubOrchestrationInstanceCreated"})
TASK_RESULTS = {
    "TaskCompleted": "TaskScheduled",
    "TaskFailed": "TaskScheduled",
    "SubOrchestrationInstanceCompleted": "SubOrchestrationInstanceCreated",
    "SubOrchestrationInstanceFailed": "SubOrchestrationInstanceCreated",
}
READS = frozenset({*TASK_RESULTS, "TimerFired", "EventRaised"})
FAILURES = frozenset({"TaskFailed", "SubOrchestrationInstanceFailed"})
RETRIED_ACTIONS = frozenset(
    {ActionType.CALL_ACTIVITY_WITH_RETRY, ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY}
)


def ok(value: Any, *after: Any) -> dict[str, Any]:
    return {"return": value, "after": list(after)}


def fail(message: str, *after: Any) -> dict[str, Any]:
    return {"fail": message, "after": list(after)}


def seen(event: str, name: str, value: str, count: int = 1) -> dict[str, Any]:
    """A gate: ``count`` events ``event`` for tasks of activity ``name`` with input ``value``."""
    return {"event": event, "name": name, "input": value, "count": count}


def hello(answers: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {"Hello": answers}


@dataclass(frozen=True)
class Run:
    """One orchestration on devhost, and the SDK tests whose histories it must reproduce."""

    name: str
    generator: str  # "<module>:<function>" in the SDK's tests/orchestrator
    fixtures: tuple[str, ...]  # "<module>:<test>"
    answers: dict[str, Any] = field(default_factory=dict)
    # Raise the SDK test's EventRaised events (name and data), in its order, after the start.
    raise_events: bool = False
    # The SDK test's episodes are as the extension cuts them: compare the history event by event.
    exact: bool = False


SEQ = "test_sequential_orchestrator_with_retry"
CONCURRENT = f"{SEQ}:generator_function_concurrent_retries"
TWO_WHEN_ALL = f"{SEQ}:generator_function_two_concurrent_retries_when_all"
TWO_WHEN_ANY = f"{SEQ}:generator_function_two_concurrent_retries_when_any"
# Seattle fails first, then Tokyo; both retry; Seattle's retry completes first (once Tokyo's
# retry has been scheduled, as in the SDK test, where both retries start in one episode).
ALTERNATING = hello(
    {
        "Seattle": [fail("Seattle down"), ok("Hello Seattle!", seen("TaskScheduled", "Hello", "Tokyo", 2))],
        "Tokyo": [
            fail("Tokyo down", seen("TaskFailed", "Hello", "Seattle")),
            ok("Hello Tokyo!", seen("TaskCompleted", "Hello", "Seattle")),
        ],
    }
)
ALL_OK = hello({"*": [ok("unused")], **{c: [ok(f"Hello {c}!")] for c in ("Tokyo", "Seattle", "London")}})

RETRY_RUNS = [
    Run(
        "sequence_all_succeed",
        f"{SEQ}:generator_function",
        (f"{SEQ}:test_initial_orchestration_state", f"{SEQ}:test_tokyo_state"),
        ALL_OK,
        exact=True,
    ),
    Run(
        "sequence_tokyo_fails_once",
        f"{SEQ}:generator_function",
        (
            f"{SEQ}:test_failed_tokyo_with_retry",
            f"{SEQ}:test_failed_tokyo_with_timer_entry",
            f"{SEQ}:test_successful_tokyo_with_failed_retry_timer_added",
        ),
        hello({**ALL_OK["Hello"], "Tokyo": [fail("Tokyo down"), ok("Hello Tokyo!")]}),
        exact=True,
    ),
    Run(
        "sequence_tokyo_always_fails",
        f"{SEQ}:generator_function",
        (
            f"{SEQ}:test_failed_tokyo_with_failed_retry",
            f"{SEQ}:test_failed_tokyo_with_failed_retry_timer_added",
            f"{SEQ}:test_failed_tokyo_hit_max_attempts",
        ),
        hello({"Tokyo": [fail("Tokyo down")]}),
        exact=True,
    ),
    Run(
        "sequence_retries_exhausted_then_caught",
        f"{SEQ}:generator_function_try_catch",
        (f"{SEQ}:test_failed_tokyo_hit_max_attempts_in_try_catch",),
        hello({"Tokyo": [fail("Tokyo down")], "Seattle": [ok("Hello Seattle!")]}),
        exact=True,
    ),
    Run(
        "concurrent_retries_in_order",
        CONCURRENT,
        (f"{SEQ}:test_concurrent_retriable_results",),
        hello(
            {
                # All three fail in order, all three retry timers fire, the retries complete in order.
                "Tokyo": [
                    fail("Tokyo down"),
                    ok("Hello Tokyo!", seen("TaskScheduled", "Hello", "London", 2)),
                ],
                "Seattle": [
                    fail("Seattle down", seen("TaskFailed", "Hello", "Tokyo")),
                    ok("Hello Seattle!", seen("TaskCompleted", "Hello", "Tokyo")),
                ],
                "London": [
                    fail("London down", seen("TaskFailed", "Hello", "Seattle")),
                    ok("Hello London!", seen("TaskCompleted", "Hello", "Seattle")),
                ],
            }
        ),
    ),
    Run(
        "concurrent_retries_completing_out_of_order",
        CONCURRENT,
        (f"{SEQ}:test_concurrent_retriable_results_unordered_arrival",),
        hello(
            {
                # Failures in order; the retries complete London, Tokyo, Seattle.
                "Tokyo": [fail("Tokyo down"), ok("Hello Tokyo!", seen("TaskCompleted", "Hello", "London"))],
                "Seattle": [
                    fail("Seattle down", seen("TaskFailed", "Hello", "Tokyo")),
                    ok("Hello Seattle!", seen("TaskCompleted", "Hello", "Tokyo")),
                ],
                "London": [fail("London down", seen("TaskFailed", "Hello", "Seattle")), ok("Hello London!")],
            }
        ),
    ),
    Run(
        "concurrent_retries_mixed",
        CONCURRENT,
        (f"{SEQ}:test_concurrent_retriable_results_mixed_arrival",),
        hello(
            {
                # Seattle fails, Tokyo succeeds, London fails; London's retry completes first.
                "Seattle": [
                    fail("Seattle down"),
                    ok("Hello Seattle!", seen("TaskCompleted", "Hello", "London")),
                ],
                "Tokyo": [ok("Hello Tokyo!", seen("TaskFailed", "Hello", "Seattle"))],
                "London": [fail("London down", seen("TaskCompleted", "Hello", "Tokyo")), ok("Hello London!")],
            }
        ),
    ),
    Run(
        "two_retries_alternating_ids_when_all",
        TWO_WHEN_ALL,
        (f"{SEQ}:test_concurrent_retriable_results_alternating_taskIDs_when_all",),
        ALTERNATING,
    ),
    Run(
        "two_retries_alternating_ids_when_any",
        TWO_WHEN_ANY,
        (f"{SEQ}:test_concurrent_retriable_results_alternating_taskIDs_when_any",),
        ALTERNATING,
    ),
    Run(
        "retries_each_city_fails_once",
        "test_retries:generator_function",
        ("test_retries:test_failed_tasks_do_not_hang_orchestrator",),
        hello({c: [fail(f"{c} down"), ok(f"Hello {c}")] for c in ("Tokyo", "Seattle", "London")}),
    ),
    Run(
        "retries_can_fail",
        "test_retries:generator_function",
        ("test_retries:test_retries_can_fail",),
        hello({"Tokyo": [fail("Tokyo down")]}),
    ),
    Run(
        "fan_out_fan_in",
        "test_fan_out_fan_in:generator_function",
        (
            "test_fan_out_fan_in:test_initial_call",
            "test_fan_out_fan_in:test_get_activity_count_success",
            "test_fan_out_fan_in:test_parrot_value_success",
            "test_fan_out_fan_in:test_show_me_the_sum_success",
        ),
        {
            "GetActivityCount": {"*": [ok(5)]},
            # The five parallel results arrive in order, as in the SDK test.
            "ParrotValue": {
                "0": [ok(0)],
                **{str(i): [ok(i, seen("TaskCompleted", "ParrotValue", str(i - 1)))] for i in range(1, 5)},
            },
            "ShowMeTheSum": {"*": [ok("Well that's nice 10!")]},
        },
    ),
    Run(
        "fan_out_one_failure",
        "test_fan_out_fan_in:generator_function",
        ("test_fan_out_fan_in:test_failed_parrot_value",),
        {
            "GetActivityCount": {"*": [ok(5)]},
            "ParrotValue": {
                "0": [ok(0)],
                "1": [ok(1, seen("TaskCompleted", "ParrotValue", "0"))],
                "2": [fail("parrot 2 is ill", seen("TaskCompleted", "ParrotValue", "1"))],
                "3": [ok(3, seen("TaskFailed", "ParrotValue", "2"))],
                "4": [ok(4, seen("TaskCompleted", "ParrotValue", "3"))],
            },
        },
    ),
    Run(
        "task_any_first_result",
        "test_task_any:generator_function",
        ("test_task_any:test_continues_on_zero_results", "test_task_any:test_succeeds_on_one_result"),
        hello({"0": [ok("1")], "1": [ok("2", "finished")], "2": [ok("3", "finished")]}),
    ),
    Run(
        "task_any_first_failure",
        "test_task_any:generator_function",
        ("test_task_any:test_continues_on_one_failure",),
        hello({"0": [fail("zero failed")], "1": [ok("2", "finished")], "2": [ok("3", "finished")]}),
    ),
    Run(
        "task_any_of_nothing",
        "test_task_any:generator_function_no_activity",
        ("test_task_any:test_continues_on_zero_inner_tasks",),
    ),
    Run(
        "sub_orchestrations_succeed",
        "test_sub_orchestrator_with_retry:generator_function",
        ("test_sub_orchestrator_with_retry:test_tokyo_and_seattle_and_london_state",),
        ALL_OK,
        exact=True,
    ),
    Run(
        "sub_orchestration_fails_once",
        "test_sub_orchestrator_with_retry:generator_function",
        ("test_sub_orchestrator_with_retry:test_tokyo_and_seattle_and_london_state_partial_failure",),
        hello({**ALL_OK["Hello"], "Seattle": [fail("Seattle down"), ok("Hello Seattle!")]}),
        exact=True,
    ),
    Run(
        "sub_orchestration_always_fails",
        "test_sub_orchestrator_with_retry:generator_function",
        ("test_sub_orchestrator_with_retry:test_tokyo_and_seattle_and_london_state_all_failed",),
        hello({"Tokyo": [fail("Tokyo down")]}),
        exact=True,
    ),
    Run(
        "external_event",
        "test_external_event:generator_function",
        ("test_external_event:test_continue_when_no_payload", "test_external_event:test_succeeds_on_payload"),
        raise_events=True,
    ),
    Run(
        "external_events_out_of_order",
        "test_external_event:generator_function_multiple",
        ("test_external_event:test_succeeds_on_out_of_order_payload",),
        raise_events=True,
    ),
    Run(
        "external_event_with_expected_type",
        "test_external_event:generator_function_with_expected_type",
        ("test_external_event:test_external_event_with_expected_type",),
        raise_events=True,
    ),
]
TIMER_RUNS = [
    Run(
        "timer_with_relaxed_precision",
        "test_create_timer:generator_function",
        ("test_create_timer:test_timers_comparison_with_relaxed_precision",),
        exact=True,
    ),
    Run(
        "cancelled_timer",
        "test_create_timer:generator_function_timer_can_be_cancelled",
        (
            "test_create_timer:test_timers_can_be_cancelled",
            "test_create_timer:test_timers_can_be_cancelled_replayV2",
        ),
    ),
]
CONTINUE_AS_NEW = "test_continue_as_new"
CONTINUE_AS_NEW_FIXTURES = (
    f"{CONTINUE_AS_NEW}:test_initial_orchestration_state",
    f"{CONTINUE_AS_NEW}:test_tokyo_state",
)
LONG_TIMER_TEST = Path("tests") / "tasks" / "test_long_timers.py"
LONG_TIMER_HOURS = 20  # test_long_timer_fires_appropriately's final fire time


def orchestrator_name(generator: str) -> str:
    """The name durable_sdk_app registers an SDK generator function under."""
    module, function = generator.split(":")
    return f"{module.removeprefix('test_')}__{function}"


# Hosts


@dataclass
class ScenarioHost:
    host: RunningDevhost
    http: httpx.Client
    app_dir: Path
    script: Path

    def run(self, run: Run, instance_id: str, events: Sequence[tuple[str, str]] = ()) -> str:
        self.script.write_text(
            json.dumps(
                {
                    "instance": instance_id,
                    "base_url": self.host.base_url,
                    "attempts_dir": str(self.app_dir / "attempts" / instance_id),
                    "answers": run.answers,
                }
            ),
            encoding="utf-8",
        )
        response = self.http.post(
            f"{STATUS_API}/orchestrators/{orchestrator_name(run.generator)}/{instance_id}"
        )
        assert response.status_code == 202, response.text
        for name, data in events:
            raised = self.http.post(
                f"{STATUS_API}/instances/{instance_id}/raiseEvent/{name}",
                content=data.encode(),
                headers={"Content-Type": "application/json"},
            )
            assert raised.status_code == 202, raised.text
        return instance_id

    def status(self, instance_id: str) -> dict[str, Any]:
        response = self.http.get(
            f"{STATUS_API}/instances/{instance_id}",
            params={"showHistory": "true", "showHistoryOutput": "true"},
        )
        assert response.status_code in (200, 202), response.text
        payload: dict[str, Any] = response.json()
        return payload

    def wait(self, instance_id: str, until: Until = finished, timeout: float = 20.0) -> dict[str, Any]:
        return wait_for_status(lambda: self.status(instance_id), instance_id, until, timeout)


@contextmanager
def scenario_host(destination: Path, sdk_root: Path, env: dict[str, str]) -> Iterator[ScenarioHost]:
    app_dir = copy_app("durable_sdk_app", destination)
    script = app_dir / "script.json"
    script.write_text('{"answers": {}}', encoding="utf-8")
    settings = {"DEVHOST_SDK_PATH": import_path(sdk_root), "DEVHOST_SDK_SCRIPT": str(script), **env}
    with (
        run_devhost(app_dir, env=settings, log_path=destination / "host.log") as host,
        httpx.Client(base_url=host.base_url, timeout=15) as http,
    ):
        yield ScenarioHost(host, http, app_dir, script)


@pytest.fixture(scope="module")
def sdk_root() -> Path:
    return sdk_tests_root()


@pytest.fixture(scope="module")
def expectations(sdk_root: Path) -> dict[str, list[dict[str, Any]]]:
    """Per SDK test, the histories it fed the SDK and the SDK's replies (see sdk_capture.py)."""
    fixtures = [f for run in [*RETRY_RUNS, *TIMER_RUNS] for f in run.fixtures]
    report = capture(sdk_root, [*fixtures, *CONTINUE_AS_NEW_FIXTURES])
    return {test_id: entry["calls"] for test_id, entry in report.items()}


@pytest.fixture(scope="module")
def retry_host(module_tmp: Path, sdk_root: Path) -> Iterator[ScenarioHost]:
    with scenario_host(
        module_tmp / "retries", sdk_root, {"DEVHOST_DURABLE_TIMER_SCALE": RETRY_TIMER_SCALE}
    ) as host:
        yield host


def long_timer_limits(sdk_root: Path) -> tuple[str, str]:
    """maximumShortTimerDuration and longRunningTimerIntervalDuration of the SDK's long-timer test."""
    text = (sdk_root / LONG_TIMER_TEST).read_text(encoding="utf-8")
    found = {
        key: value for key, value in re.findall(r'"(\w+TimerDuration|\w+IntervalDuration)":"([^"]+)"', text)
    }
    return found["maximumShortTimerDuration"], found["longRunningTimerIntervalDuration"]


@pytest.fixture(scope="module")
def timer_host(module_tmp: Path, sdk_root: Path) -> Iterator[ScenarioHost]:
    maximum_short, interval = long_timer_limits(sdk_root)
    env = {
        "DEVHOST_DURABLE_TIMER_SCALE": str(TIMER_SCALE),
        "DEVHOST_DURABLE_MAXIMUM_SHORT_TIMER_DURATION": maximum_short,
        "DEVHOST_DURABLE_LONG_RUNNING_TIMER_INTERVAL_DURATION": interval,
    }
    with scenario_host(module_tmp / "timers", sdk_root, env) as host:
        yield host


# Comparing histories


def kind(item: dict[str, Any]) -> str:
    """The event's type by name: the SDK's histories number it, the status API names it."""
    event_type = item["EventType"]
    return event_type if isinstance(event_type, str) else EVENT_NAMES[EventType(event_type)]


def link(item: dict[str, Any]) -> tuple[Any, ...]:
    """An event reduced to what ties it to others: its type, and the id or name it carries."""
    name = kind(item)
    if name in SCHEDULING:
        return (name, item["EventId"], item.get("Name"))
    if name in TASK_RESULTS:
        return (name, item["TaskScheduledId"])
    if name == "TimerFired":
        return (name, item["TimerId"])
    if name == "EventRaised":
        return (name, item["Name"])
    return (name,)


def reads(history: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [link(item) for item in history if kind(item) in READS]


def decided_part(history: list[dict[str, Any]], decisive_reads: int) -> list[dict[str, Any]]:
    """The events up to the completion that decided the SDK's outcome (the first episode if none)."""
    positions = [i for i, item in enumerate(history) if kind(item) in READS]
    return history[: positions[decisive_reads - 1] + 1] if decisive_reads else history[:2]


def leaves(actions: list[Any]) -> list[dict[str, Any]]:
    """The SDK's reply's atomic actions in order, whatever the replay schema's nesting."""
    found: list[dict[str, Any]] = []
    for action in actions:
        if isinstance(action, list):
            found += leaves(action)
        elif "compoundActions" in action:
            found += leaves(action["compoundActions"])
        else:
            found.append(action)
    return found


def moment(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def episode_starts(history: list[dict[str, Any]]) -> list[datetime]:
    """For each event, the OrchestratorStarted timestamp of the episode it was written in."""
    starts: list[datetime] = []
    current: datetime | None = None
    for item in history:
        if kind(item) == "OrchestratorStarted":
            current = moment(item["Timestamp"])
        assert current is not None, "history does not start with OrchestratorStarted"
        starts.append(current)
    return starts


def action_task(action: dict[str, Any]) -> tuple[Any, ...] | None:
    """What a scheduling event for this action must say; None for actions that schedule nothing."""
    action_type = action["actionType"]
    data = None if action.get("input") is None else json.loads(action["input"])
    if action_type in (ActionType.CALL_ACTIVITY, ActionType.CALL_ACTIVITY_WITH_RETRY):
        return ("TaskScheduled", action["functionName"], data)
    if action_type in (ActionType.CALL_SUB_ORCHESTRATOR, ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY):
        return ("SubOrchestrationInstanceCreated", action["functionName"], data)
    if action_type == ActionType.CREATE_TIMER:
        return ("TimerCreated", moment(action["fireAt"]))
    return None  # WaitForExternalEvent, ContinueAsNew


def scheduled_task(item: dict[str, Any]) -> tuple[Any, ...]:
    name = kind(item)
    if name == "TaskScheduled":
        # The extension records an activity's input as its parameter array.
        return (name, item["Name"], json.loads(json.loads(item["Input"])[0]))
    if name == "SubOrchestrationInstanceCreated":
        return (name, item["Name"], None if item["Input"] is None else json.loads(json.loads(item["Input"])))
    return (name, moment(item["FireAt"]))


def same_task(expected: tuple[Any, ...], actual: tuple[Any, ...], clocks: tuple[datetime, datetime]) -> bool:
    """Equal, except that a timer may be due at the same offset from each history's first episode.

    A timer's fire time is either absolute in the orchestrator's code or counted from
    current_utc_datetime, which follows each history's own clock.
    """
    if expected[0] != "TimerCreated" or actual[0] != "TimerCreated":
        return expected == actual
    return bool(expected[1] == actual[1] or expected[1] - clocks[0] == actual[1] - clocks[1])


def assert_conforms(
    call: dict[str, Any], history: list[dict[str, Any]], status: dict[str, Any], run: Run
) -> None:
    """devhost's history (and final status) against one SDK test's history and the SDK's reply."""
    expected_history = call["history"]
    outcome = call["outcome"]
    actions = leaves(call["state"].get("actions") or [])

    # 1. The completions the SDK reads: same order, same task ids.
    expected_reads, actual_reads = reads(expected_history), reads(history)
    if outcome == "pending":
        assert actual_reads[: len(expected_reads)] == expected_reads
    else:
        assert call["decisive_reads"] <= len(actual_reads) <= len(expected_reads), actual_reads
        assert actual_reads == expected_reads[: len(actual_reads)]

    # 2. Scheduling events: the SDK test's ids and names (up to where the SDK decided), unique,
    # each before its completion.
    relevant = (
        expected_history if outcome == "pending" else decided_part(expected_history, call["decisive_reads"])
    )
    scheduled = [link(item) for item in history if kind(item) in SCHEDULING]
    assert len({entry[1] for entry in scheduled}) == len(scheduled), scheduled
    assert {link(item) for item in relevant if kind(item) in SCHEDULING} <= set(scheduled)
    by_id: dict[int, str] = {}
    for item in history:
        name = kind(item)
        if name in SCHEDULING:
            by_id[item["EventId"]] = name
        elif name in TASK_RESULTS:
            assert by_id.get(item["TaskScheduledId"]) == TASK_RESULTS[name], item
        elif name == "TimerFired":
            assert by_id.get(item["TimerId"]) == "TimerCreated", item

    # 3. The tasks devhost scheduled are the SDK's actions, in order (retries aside).
    retried = [a for a in actions if a["actionType"] in RETRIED_ACTIONS]
    expected_tasks = [task for task in map(action_task, actions) if task is not None]
    scheduling = sorted((item for item in history if kind(item) in SCHEDULING), key=lambda e: e["EventId"])
    actual_tasks: list[tuple[Any, ...]] = []
    for item in scheduling:
        task = scheduled_task(item)
        if retried and (task[0] == "TimerCreated" or task in actual_tasks):
            continue  # a retry timer or a further attempt of a task already listed
        actual_tasks.append(task)
    clocks = (moment(expected_history[0]["Timestamp"]), moment(history[0]["Timestamp"]))
    compared = actual_tasks if outcome != "pending" else actual_tasks[: len(expected_tasks)]
    assert len(compared) == len(expected_tasks), (compared, expected_tasks)
    for expected, actual in zip(expected_tasks, compared, strict=True):
        assert same_task(expected, actual, clocks), (expected, actual)

    # 4. Fire times.
    starts = episode_starts(history)
    created = {
        item["EventId"]: (item, starts[i]) for i, item in enumerate(history) if kind(item) == "TimerCreated"
    }
    intervals = {a["retryOptions"]["firstRetryIntervalInMilliseconds"] for a in retried}
    assert len(intervals) <= 1
    for index, item in enumerate(history):
        if kind(item) == "TimerCreated" and intervals:
            # A retry timer, created in the episode that delivered the failure.
            episode = [e for e, start in zip(history, starts, strict=True) if start == starts[index]]
            assert any(kind(e) in FAILURES for e in episode), item
            assert moment(item["FireAt"]) == starts[index] + timedelta(milliseconds=next(iter(intervals)))
        if kind(item) == "TimerFired":
            timer, _ = created[item["TimerId"]]
            assert item["FireAt"] == timer["FireAt"]
            # Fired and delivered no earlier than due, on the orchestrator's clock.
            assert moment(item["Timestamp"]) >= moment(timer["FireAt"])
            assert starts[index] >= moment(timer["FireAt"])

    # 5. The outcome.
    if outcome == "done":
        assert status["runtimeStatus"] == "Completed", status
        assert status["output"] == call["state"].get("output")
    elif outcome == "failed":
        assert status["runtimeStatus"] == "Failed", status

    # 6. Realistic episodes: the same history, event by event.
    if run.exact:
        expected_links = [link(item) for item in expected_history]
        actual_links = [link(item) for item in history]
        if outcome == "pending":
            assert actual_links[: len(expected_links)] == expected_links
        else:
            ending = "ExecutionCompleted" if outcome == "done" else "ExecutionFailed"
            assert actual_links == [*expected_links, (ending,), ("OrchestratorCompleted",)]


def raised_events(run: Run, expectations: dict[str, list[dict[str, Any]]]) -> list[tuple[str, str]]:
    """The external events (name, data) of the run's SDK test that raises the most, in its order."""
    histories = [call["history"] for fixture in run.fixtures for call in expectations[fixture]]
    raised = [[(e["Name"], e["Input"]) for e in history if kind(e) == "EventRaised"] for history in histories]
    return max(raised, key=len)


def check_run(host: ScenarioHost, run: Run, expectations: dict[str, list[dict[str, Any]]]) -> None:
    events = raised_events(run, expectations) if run.raise_events else []
    instance_id = host.run(run, run.name, events)
    status = host.wait(instance_id)
    history = status["historyEvents"]
    for fixture in run.fixtures:
        for call in expectations[fixture]:
            assert call["generator"] == run.generator, fixture
            try:
                assert_conforms(call, history, status, run)
            except AssertionError as exc:
                shown = "\n  ".join(str(link(item)) for item in history)
                raise AssertionError(f"{fixture}: {exc}\ndevhost's history:\n  {shown}") from exc


# Tests


@pytest.mark.parametrize("run", RETRY_RUNS, ids=lambda run: run.name)
def test_devhost_writes_the_history_the_sdk_scenario_expects(run, retry_host, expectations):
    check_run(retry_host, run, expectations)


@pytest.mark.parametrize("run", TIMER_RUNS, ids=lambda run: run.name)
def test_devhost_writes_the_timer_history_the_sdk_scenario_expects(run, timer_host, expectations):
    check_run(timer_host, run, expectations)


def test_continue_as_new_starts_the_next_execution_with_the_sdks_input(retry_host, expectations):
    """The SDK's continue_as_new scenario loops forever: its second execution is held, then ended."""
    initial, after_tokyo = (expectations[fixture][0] for fixture in CONTINUE_AS_NEW_FIXTURES)
    assert after_tokyo["outcome"] == "done"
    continued = [
        a for a in leaves(after_tokyo["state"]["actions"]) if a["actionType"] == ActionType.CONTINUE_AS_NEW
    ]
    assert len(continued) == 1
    run = Run(
        "continue_as_new",
        f"{CONTINUE_AS_NEW}:generator_function",
        (),
        # The second execution's Hello waits for the instance to end.
        hello({"Tokyo": [ok("Hello Tokyo!"), ok("Hello Tokyo!", "finished")]}),
    )
    instance_id = retry_host.run(run, run.name)

    def second_execution_waits(status: dict[str, Any]) -> bool:
        history = status["historyEvents"]
        return any(kind(e) == "TaskScheduled" for e in history) and history[1]["Input"] is not None

    status = retry_host.wait(instance_id, until=second_execution_waits)

    history = status["historyEvents"]
    # The history is the new execution's alone, started with the input the SDK gave continue_as_new.
    started = history[1]
    assert kind(started) == "ExecutionStarted"
    assert json.loads(json.loads(started["Input"])) == json.loads(continued[0]["input"])
    assert status["runtimeStatus"] == "Running"
    # The first execution ran Tokyo's Hello once, and the new one's has started (it is scheduled
    # before it runs, so wait for it); the new execution replays the start the SDK expects.
    attempts = retry_host.app_dir / "attempts" / instance_id
    wait_until(lambda: len(list(attempts.iterdir())) >= 2)
    assert len(list(attempts.iterdir())) == 2
    assert_conforms(initial, history, status, Run("", run.generator, (), exact=True))
    terminated = retry_host.http.post(
        f"{STATUS_API}/instances/{instance_id}/terminate", params={"reason": "enough"}
    )
    assert terminated.status_code == 202
    assert retry_host.wait(instance_id)["runtimeStatus"] == "Terminated"


def test_a_long_timer_is_split_as_the_sdks_long_timer_test_expects(timer_host, sdk_root):
    """tests/tasks/test_long_timers.py: with a 16 h limit and 8 h intervals, a 20 h timer is an 8 h
    timer, then one to the final time (12 h left is within the limit). The SDK test drives
    LongTimerTask by hand; here devhost sends the limits, and fires each link when due."""
    maximum_short, interval = (parse_timespan(text) for text in long_timer_limits(sdk_root))
    total = timedelta(hours=LONG_TIMER_HOURS)
    assert total > maximum_short and total - interval <= maximum_short  # the SDK test's case
    instance_id = "long_timer"
    began = time.monotonic()
    response = timer_host.http.post(
        f"{STATUS_API}/orchestrators/one_long_timer/{instance_id}", json=LONG_TIMER_HOURS
    )
    assert response.status_code == 202, response.text

    status = timer_host.wait(instance_id)

    elapsed = time.monotonic() - began
    assert status["runtimeStatus"] == "Completed", status
    history = status["historyEvents"]
    assert [link(e) for e in history] == [
        ("OrchestratorStarted",),
        ("ExecutionStarted",),
        ("TimerCreated", 0, None),
        ("OrchestratorCompleted",),
        ("OrchestratorStarted",),
        ("TimerFired", 0),
        ("TimerCreated", 1, None),
        ("OrchestratorCompleted",),
        ("OrchestratorStarted",),
        ("TimerFired", 1),
        ("ExecutionCompleted",),
        ("OrchestratorCompleted",),
    ]
    started = moment(history[0]["Timestamp"])
    first, second = (e for e in history if kind(e) == "TimerCreated")
    assert moment(first["FireAt"]) == started + interval
    assert moment(second["FireAt"]) == started + total
    output = status["output"]
    assert moment(output["started"]) == started
    assert moment(output["resumed"]) >= started + total
    assert elapsed >= total.total_seconds() * TIMER_SCALE * 0.95
