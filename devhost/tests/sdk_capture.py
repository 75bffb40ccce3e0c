"""Runs tests of the Durable SDK's own suite and reports what each fed the SDK and what it expected.

Not a test module: ``durable_sdk.capture`` runs this file in a subprocess whose import path starts
with the unpacked ``tests`` package of the azure-functions-durable sdist (Herald has a ``tests``
package of its own, so the two never share a process). Usage::

    python -P sdk_capture.py '["test_task_any:test_succeeds_on_one_result", ...]'

Each SDK test builds a history with its ContextBuilder and hands it, with one of its orchestrator
generator functions, to ``get_orchestration_state_result``; that helper is wrapped here to record
every call. The SDK test then runs its own assertions unchanged. For each call the report holds:

- ``generator``: ``"<module>:<function>"`` of the orchestrator, e.g. ``"test_task_any:generator_function"``;
- ``history``: the events the SDK test built, as the SDK was sent them;
- ``outcome``: ``pending`` (the SDK asks for more work), ``done`` or ``failed`` (it raised);
- ``state``: the SDK's reply (for ``failed``, the state carried by its exception), and ``error``;
- ``decisive_reads``: for ``done`` and ``failed``, the fewest completion events (TaskCompleted,
  TaskFailed, TimerFired, sub-orchestration results, EventRaised) of that history after which the
  SDK already reaches the same outcome: later ones no longer matter to it.

A JSON object ``{test_id: {"failure": <traceback or null>, "calls": [...]}}`` goes to stdout.
"""

from __future__ import annotations

import copy
import importlib
import json
import sys
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

SDK_VERSION = "1.7.0"
_STATE_MARKER = "\n\n$OutOfProcData$:"
# TaskCompleted, TaskFailed, SubOrchestrationInstanceCompleted/Failed, TimerFired, EventRaised.
READ_EVENT_TYPES = frozenset({5, 6, 8, 9, 11, 15})


def main(test_ids: list[str]) -> dict[str, Any]:
    installed = metadata.version("azure-functions-durable")
    if installed != SDK_VERSION:
        raise SystemExit(
            f"azure-functions-durable {installed} is installed; the scenarios are {SDK_VERSION}'s"
        )
    tests_package = importlib.import_module("tests")
    # The SDK's package, not Herald's: the caller put the sdist's folder first on the path.
    if not (Path(tests_package.__file__ or "").parent / "test_utils" / "ContextBuilder.py").exists():
        raise SystemExit(f"'tests' is {tests_package.__file__}, not the Durable SDK's test suite")
    helpers = importlib.import_module("tests.orchestrator.orchestrator_test_utils")
    run_sdk: Callable[..., Any] = helpers.get_orchestration_state_result
    report: dict[str, Any] = {}
    for test_id in test_ids:
        module_name, test_name = test_id.split(":")
        module: Any = importlib.import_module(f"tests.orchestrator.{module_name}")
        calls: list[dict[str, Any]] = []

        def recording(
            context_builder: Any,
            user_code: Any,
            uses_pystein: bool = False,
            calls: list[dict[str, Any]] = calls,
        ) -> Any:
            call = _describe(run_sdk, context_builder, user_code)
            calls.append(call)
            return run_sdk(context_builder, user_code, uses_pystein)

        module.get_orchestration_state_result = recording
        try:
            getattr(module, test_name)()
            failure = None
        except BaseException:
            failure = traceback.format_exc()
        finally:
            module.get_orchestration_state_result = run_sdk
        report[test_id] = {"failure": failure, "calls": calls}
    return report


def _describe(run_sdk: Callable[..., Any], context_builder: Any, user_code: Any) -> dict[str, Any]:
    history = copy.deepcopy(context_builder.get_history_list_as_dict())
    outcome, state, error = _outcome(run_sdk, context_builder, user_code)
    decisive = None
    if outcome != "pending":
        decisive = _decisive_reads(run_sdk, context_builder, user_code, (outcome, state.get("output")))
    return {
        "generator": f"{user_code.__module__.rpartition('.')[2]}:{user_code.__name__}",
        "history": history,
        "outcome": outcome,
        "state": state,
        "error": error,
        "decisive_reads": decisive,
    }


def _outcome(
    run_sdk: Callable[..., Any], context_builder: Any, user_code: Any
) -> tuple[str, Any, str | None]:
    try:
        state = run_sdk(context_builder, user_code)
    except Exception as exc:
        message, _, state_text = str(exc).partition(_STATE_MARKER)
        return "failed", json.loads(state_text) if state_text else {}, message
    return ("done" if state.get("isDone") else "pending"), state, None


def _decisive_reads(
    run_sdk: Callable[..., Any], context_builder: Any, user_code: Any, expected: tuple[str, Any]
) -> int:
    events = context_builder.history_events
    read_positions = [i for i, item in enumerate(events) if int(item.event_type) in READ_EVENT_TYPES]
    # With no completion at all the SDK sees the first episode only: OrchestratorStarted, ExecutionStarted.
    cuts = [2, *(position + 1 for position in read_positions)]
    for reads, cut in enumerate(cuts):
        shorter = copy.copy(context_builder)
        shorter.history_events = list(events[:cut])
        outcome, state, _ = _outcome(run_sdk, shorter, user_code)
        if (outcome, state.get("output")) == expected:
            return reads
    return len(read_positions)


if __name__ == "__main__":
    json.dump(main(json.loads(sys.argv[1])), sys.stdout, default=str)
