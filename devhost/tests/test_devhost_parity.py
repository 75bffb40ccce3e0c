"""devhost refuses what Azure refuses: the worker runtime's indexing checks and the host's rules.

Each app below is one Azure would not load (the worker runtime or the Functions host refuses its
metadata, so no function of it runs). devhost must exit non-zero without serving anything, naming
the function and the reason, since the same app would not start in Azure either.
"""

import textwrap
from pathlib import Path

import httpx
import pytest

from devhost.testing import DevhostStartupError, run_devhost

from .durable_support import STATUS_API

HEADER = """
import typing
from typing import Any

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="fine")
def fine(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("fine")
"""

REFUSED = {
    "pep585_activity_parameter": (
        """
        @app.activity_trigger(input_name="job")
        def act(job: dict[str, Any]) -> str:
            return "x"
        """,
        "cannot load the act function: binding job has invalid non-type annotation dict[str, typing.Any]",
    ),
    "pep585_return": (
        """
        @app.route(route="listing")
        def listing(req: func.HttpRequest) -> list[str]:
            return []
        """,
        "cannot load the listing function: has invalid non-type return annotation list[str]",
    ),
    "binding_name_with_underscore": (
        """
        @app.queue_trigger(arg_name="queue_item", queue_name="work", connection="AzureWebJobsStorage")
        def consume(queue_item: func.QueueMessage) -> None:
            pass
        """,
        "function consume: invalid binding name 'queue_item'",
    ),
    "invalid_function_name": (
        """
        @app.function_name("9lives")
        @app.route(route="cat")
        def cat(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("meow")
        """,
        "function 9lives: invalid function name '9lives'",
    ),
    "names_equal_but_for_case": (
        """
        @app.function_name("Twin")
        @app.route(route="twin-a")
        def twin_a(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("a")


        @app.function_name("twin")
        @app.route(route="twin-b")
        def twin_b(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("b")
        """,
        "functions Twin and twin: function names must be unique",
    ),
    "unset_setting_expression": (
        """
        @app.timer_trigger(schedule="%NIGHTLY_SCHEDULE%", arg_name="timer")
        def nightly(timer: func.TimerRequest) -> None:
            pass
        """,
        "function nightly: binding 'timer': app setting 'NIGHTLY_SCHEDULE'",
    ),
    "two_function_apps": (
        """
        other = func.FunctionApp()
        """,
        "More than one DFApp or other top level function app instances are defined",
    ),
    "parameter_without_binding": (
        """
        @app.route(route="orphan")
        def orphan(req: func.HttpRequest, extra: str) -> func.HttpResponse:
            return func.HttpResponse("x")
        """,
        "cannot load the orphan function: the following parameters are declared in Python but not",
    ),
}


def _write_app(app_dir: Path, body: str) -> Path:
    app_dir.mkdir(parents=True)
    source = textwrap.dedent(HEADER) + "\n\n" + textwrap.dedent(body)
    (app_dir / "function_app.py").write_text(source, encoding="utf-8")
    return app_dir


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_an_app_azure_refuses_is_refused_naming_the_function_and_reason(tmp_path, case):
    body, reason = REFUSED[case]
    app_dir = _write_app(tmp_path / case, body)

    with (
        pytest.raises(DevhostStartupError) as refused,
        run_devhost(app_dir, log_path=tmp_path / f"{case}.log"),
    ):
        pass

    message = str(refused.value)
    assert "exited with code 1" in message
    assert reason in message
    # Nothing was served, not even the valid function.
    assert "devhost listening" not in (tmp_path / f"{case}.log").read_text()


def test_the_valid_part_alone_is_served(tmp_path):
    app_dir = _write_app(tmp_path / "valid", "")

    with run_devhost(app_dir) as host:
        assert httpx.get(f"{host.base_url}/api/fine").text == "fine"


def test_a_timer_function_that_returns_a_value_fails_that_invocation(tmp_path):
    body = """
        @app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
        def chatty(timer: func.TimerRequest):
            return "a value, though the function has no $return binding"
        """
    app_dir = _write_app(tmp_path / "chatty", body)

    with run_devhost(app_dir, log_path=tmp_path / "chatty.log") as host:
        deadline_log = ""
        for _ in range(200):
            deadline_log = host.log_text()
            if "Executed 'chatty'" in deadline_log:
                break
            httpx.get(f"{host.base_url}/api/fine")

    assert "Executed 'chatty' [timer] schedule '0 0 0 1 1 *' on startup (Failed" in deadline_log
    assert "without a $return binding" in deadline_log


# Encoded in the path as a client would send them: '#', '?', '\\' and a TAB.
REFUSED_INSTANCE_IDS = [
    "@entity-like",
    "with%23hash",
    "with%3Fquery",
    "back%5Cslash",
    "tab%09here",
    "x" * 257,
]


def test_instance_ids_the_extension_refuses_are_a_400(tmp_path):
    body = """
        @app.orchestration_trigger(context_name="context")
        def flow(context: df.DurableOrchestrationContext):
            return "done"
            yield
        """
    app_dir = _write_app(tmp_path / "ids", body)

    with run_devhost(app_dir) as host:
        base = f"{host.base_url}{STATUS_API}/orchestrators/flow"
        refused = {instance_id: httpx.post(f"{base}/{instance_id}") for instance_id in REFUSED_INSTANCE_IDS}
        accepted = httpx.post(f"{base}/plain-id_1.2:3")

    assert {key: response.status_code for key, response in refused.items()} == dict.fromkeys(refused, 400)
    assert all("instance id" in response.json()["ExceptionMessage"] for response in refused.values())
    assert accepted.status_code == 202
