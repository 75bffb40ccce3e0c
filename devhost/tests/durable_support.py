"""Driving the sample Durable app over HTTP, and replaying its stored histories through the SDK."""

from __future__ import annotations

import importlib.util
import json
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from devhost.durable.history import EventType
from devhost.durable.orchestrator import (
    OrchestratorReply,
    TimerLimits,
    context_input,
    context_json,
    parse_reply,
)
from devhost.durable.store import DurableStore, Instance, InstanceQuery
from devhost.testing import RunningDevhost, run_devhost

from .sample_apps import copy_app

STATUS_API = "/runtime/webhooks/durabletask"
FINISHED = frozenset({"Completed", "Failed", "Terminated"})


Status = dict[str, Any]
Until = Callable[[Status], bool]


def finished(status: Status) -> bool:
    return status["runtimeStatus"] in FINISHED


def wait_for_status(
    read: Callable[[], Status | None], instance_id: str, until: Until, timeout: float
) -> Status:
    """Polls `read()` until the instance's status satisfies `until`; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        status = read()
        if status is not None and until(status):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"instance {instance_id} did not get there in {timeout:g} s: {status}")
        time.sleep(0.02)


@dataclass
class DurableDriver:
    host: RunningDevhost
    http: httpx.Client

    def start(self, name: str, payload: Any = None, instance_id: str | None = None) -> str:
        """Start an orchestration through the app's own client function (start_new)."""
        path = f"/api/start/{name}" + (f"/{instance_id}" if instance_id else "")
        response = self.http.post(path, content=b"" if payload is None else json.dumps(payload).encode())
        assert response.status_code == 202, response.text
        instance: str = response.json()["id"]
        return instance

    def status(self, instance_id: str, **query: str) -> dict[str, Any] | None:
        """The public status URL, as a person following statusQueryGetUri would call it."""
        response = self.http.get(
            f"{STATUS_API}/instances/{instance_id}", params={"code": "anything", **query}
        )
        if response.status_code == 404:
            return None
        assert response.status_code in (200, 202), response.text
        payload: dict[str, Any] = response.json()
        return payload

    def wait(self, instance_id: str, until: Until = finished, timeout: float = 15.0) -> dict[str, Any]:
        return wait_for_status(lambda: self.status(instance_id), instance_id, until, timeout)

    def run(self, name: str, payload: Any = None, instance_id: str | None = None) -> dict[str, Any]:
        return self.wait(self.start(name, payload, instance_id))

    def history(self, instance_id: str) -> list[dict[str, Any]]:
        status = self.status(instance_id, showHistory="true", showHistoryOutput="true")
        assert status is not None
        events: list[dict[str, Any]] = status["historyEvents"]
        return events


@contextmanager
def durable_app(
    destination: Path, *, env: dict[str, str] | None = None, log_path: Path | None = None
) -> Iterator[DurableDriver]:
    app_dir = (
        destination if (destination / "function_app.py").exists() else copy_app("durable_app", destination)
    )
    with (
        run_devhost(app_dir, env=env, log_path=log_path) as host,
        httpx.Client(base_url=host.base_url, timeout=15) as http,
    ):
        yield DurableDriver(host, http)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def load_orchestrators(app_dir: Path, module_name: str) -> dict[str, Callable[[str], str]]:
    """The sample app's orchestrator handles, imported into this process under a unique name."""
    spec = importlib.util.spec_from_file_location(module_name, app_dir / "function_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # The test replays histories through the SDK itself, the judge of what devhost stored.
    handles = {}
    for function in module.app.get_functions():
        trigger = function.get_trigger().get_dict_repr()
        if trigger["type"] == "orchestrationTrigger":
            handles[str(trigger.get("orchestration") or function.get_function_name())] = (
                function.get_user_function()
            )
    return handles


def finished_instances(db_path: Path) -> list[tuple[Instance, list[dict[str, Any]]]]:
    """Every completed instance with its history, read after the host has stopped."""
    store = DurableStore(db_path)
    try:
        return [
            (instance, store.history(instance.instance_id))
            for instance in store.instances(InstanceQuery(statuses=frozenset({"Completed"})))
        ]
    finally:
        store.close()


def replay(
    handle: Callable[[str], str], instance: Instance, history: list[dict[str, Any]]
) -> OrchestratorReply:
    """Run the orchestrator over a stored history; fails on the SDK's unmatched-completion warning."""
    start = next(item for item in history if item["EventType"] == EventType.EXECUTION_STARTED)
    payload = context_json(
        instance_id=instance.instance_id,
        history=history,
        new_from=len(history),
        input_value=context_input(start["Input"]),
        parent_instance_id=instance.parent_instance_id,
        timer_limits=TimerLimits(),
    )
    with warnings.catch_warnings():
        # A completion that matches no task of the SDK means devhost numbered a task differently.
        warnings.filterwarnings("error", message="Potential duplicate Task completion")
        warnings.filterwarnings("ignore", message=".*df_loads was called without expected_type")
        return parse_reply(handle(payload))
