"""The Durable SDK's own scenario orchestrators, served by devhost (test_devhost_durable_sdk_scenarios).

DEVHOST_SDK_PATH is the import path of the SDK's test suite (``durable_sdk.import_path``): the
unpacked sdist's ``tests`` package, which must win over Herald's own ``tests``, and the stand-ins
it imports. Every ``generator_function*`` of the scenario modules is registered unchanged as the
orchestrator ``<module without test_>__<function>``.

The activities the scenarios call answer as the script file named by DEVHOST_SDK_SCRIPT says,
which the test rewrites before each run::

    {"instance": "<id>", "base_url": "http://127.0.0.1:<port>", "attempts_dir": "<dir>",
     "answers": {"<activity>": {"<input>" or "*": [<answer of attempt 1>, <attempt 2>, ...]}}}

An answer is ``{"return": <value>}`` or ``{"fail": "<message>"}``, optionally with ``"after"``: a
list of conditions on the instance's history that must hold before the activity answers, which
is how a scenario's order of completions is made to happen. A condition is ``"finished"`` (the
instance has ended) or ``{"event": "TaskScheduled" | "TaskCompleted" | "TaskFailed", "name": ...,
"input": ..., "count": n}``: at least ``n`` such events for tasks of that activity and input. A
condition is given up as soon as the instance has ended. Attempts beyond the list repeat its
last answer. Inputs are matched as strings (JSON text for anything that is not a string).
"""

import asyncio
import hashlib
import importlib
import inspect
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Generator
from datetime import timedelta
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import azure.functions as func
import httpx

for _entry in reversed(os.environ["DEVHOST_SDK_PATH"].split(os.pathsep)):
    sys.path.insert(0, _entry)
_tests = importlib.import_module("tests")
if not (Path(_tests.__file__ or "").parent / "test_utils" / "ContextBuilder.py").exists():
    raise RuntimeError(f"'tests' resolved to {_tests.__file__}, not the Durable SDK's test suite")

SCENARIO_MODULES = (
    "test_sequential_orchestrator_with_retry",
    "test_retries",
    "test_fan_out_fan_in",
    "test_task_any",
    "test_sub_orchestrator_with_retry",
    "test_create_timer",
    "test_continue_as_new",
    "test_external_event",
)
GATE_TIMEOUT_SECONDS = 20.0
_GATE_POLL_SECONDS = 0.01
SCRIPTED_ACTIVITIES = ("Hello", "GetActivityCount", "ParrotValue", "ShowMeTheSum")
_FINISHED = frozenset({"Completed", "Failed", "Terminated"})
_COMPLETIONS = {"TaskCompleted", "TaskFailed"}

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

Orchestration = Generator[Any, Any, Any]


def orchestrator_name(module: str, function: str) -> str:
    return f"{module.removeprefix('test_')}__{function}"


def _register_scenarios() -> None:
    for module_name in SCENARIO_MODULES:
        module = importlib.import_module(f"tests.orchestrator.{module_name}")
        for function_name, function in vars(module).items():
            if (
                function_name.startswith("generator_function")
                and inspect.isgeneratorfunction(function)
                and function.__module__ == module.__name__
            ):
                name = orchestrator_name(module_name, function_name)
                trigger = app.orchestration_trigger(context_name="context", orchestration=name)
                app.function_name(name=name)(trigger(function))


_register_scenarios()


def hello_sub_orchestrator(context: df.DurableOrchestrationContext) -> Orchestration:
    """The sub-orchestrator the SDK's sub-orchestration scenarios call; fails when its activity does."""
    return (yield context.call_activity("Hello", context.get_input()))


def one_long_timer(context: df.DurableOrchestrationContext) -> Orchestration:
    """A single durable timer ``hours`` long (the SDK's long-timer tests have no orchestrator)."""
    hours = context.get_input()
    assert isinstance(hours, int)
    started = context.current_utc_datetime
    yield context.create_timer(started + timedelta(hours=hours))
    return {"started": started.isoformat(), "resumed": context.current_utc_datetime.isoformat()}


# Scripted activities


def _scripted_activity(name: str) -> Callable[[Any], Awaitable[Any]]:
    async def activity(value: Any) -> Any:
        return await _answer(name, value)

    activity.__name__ = activity.__qualname__ = name
    return activity


# Registered by call rather than decorator syntax, as the scenarios' generators are.
app.orchestration_trigger(context_name="context", orchestration="HelloSubOrchestrator")(
    hello_sub_orchestrator
)
app.orchestration_trigger(context_name="context")(one_long_timer)
# The activities the SDK's scenarios call, by the names they call them.
for _activity in SCRIPTED_ACTIVITIES:
    app.activity_trigger(input_name="value")(_scripted_activity(_activity))


def _key(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _script() -> dict[str, Any]:
    script: dict[str, Any] = json.loads(Path(os.environ["DEVHOST_SDK_SCRIPT"]).read_text(encoding="utf-8"))
    return script


async def _answer(activity: str, value: Any) -> Any:
    script = _script()
    answers = script["answers"].get(activity, {})
    key = _key(value)
    attempts = answers.get(key) or answers.get("*")
    if not attempts:
        raise LookupError(f"the script has no answer for {activity}({key!r})")
    attempt = _count_attempt(Path(script["attempts_dir"]), activity, key)
    answer = attempts[min(attempt, len(attempts)) - 1]
    await _wait_for(script, answer.get("after", []))
    if "fail" in answer:
        raise RuntimeError(answer["fail"])
    return answer["return"]


def _count_attempt(folder: Path, activity: str, key: str) -> int:
    """This call's attempt number for the activity and input (1 for the first)."""
    stem = hashlib.sha256(f"{activity}\0{key}".encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    attempt = 1
    while True:
        try:
            (folder / f"{stem}.{attempt}").open("x").close()
            return attempt
        except FileExistsError:
            attempt += 1


async def _wait_for(script: dict[str, Any], conditions: list[Any]) -> None:
    if not conditions:
        return
    url = f"{script['base_url']}/runtime/webhooks/durabletask/instances/{script['instance']}"
    params = {"showHistory": "true", "showHistoryOutput": "true"}
    deadline = time.monotonic() + GATE_TIMEOUT_SECONDS
    async with httpx.AsyncClient(timeout=5) as http:
        while time.monotonic() < deadline:
            status = (await http.get(url, params=params)).json()
            if status["runtimeStatus"] in _FINISHED:
                return
            if all(_holds(condition, status["historyEvents"]) for condition in conditions):
                return
            await asyncio.sleep(_GATE_POLL_SECONDS)
    raise TimeoutError(f"waited {GATE_TIMEOUT_SECONDS:g} s for {conditions}")


def _holds(condition: Any, history: list[dict[str, Any]]) -> bool:
    if condition == "finished":
        return False  # only the instance's end opens this gate
    inputs = {
        item["EventId"]: (item["Name"], _key(json.loads(json.loads(item["Input"])[0])))
        for item in history
        if item["EventType"] == "TaskScheduled"
    }
    wanted = (condition["name"], condition["input"])
    if condition["event"] == "TaskScheduled":
        seen = sum(1 for task in inputs.values() if task == wanted)
    elif condition["event"] in _COMPLETIONS:
        seen = sum(
            1
            for item in history
            if item["EventType"] == condition["event"] and inputs.get(item["TaskScheduledId"]) == wanted
        )
    else:
        raise ValueError(f"unknown condition {condition!r}")
    return bool(seen >= condition.get("count", 1))
