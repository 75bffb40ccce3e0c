"""Loading settings, host.json and the app object, checked without a server."""

import json
import textwrap
from pathlib import Path

import pytest

from devhost.errors import StartupError
from devhost.loader import (
    apply_local_settings,
    enumerate_functions,
    load_app,
    read_host_json,
    route_prefix,
)


def write_settings(app_dir: Path, document: object) -> None:
    (app_dir / "local.settings.json").write_text(json.dumps(document), encoding="utf-8")


def test_local_settings_fill_the_environment_without_overriding_it(tmp_path):
    write_settings(tmp_path, {"Values": {"A": "from-file", "B": "from-file", "N": 3, "F": True}})
    environ = {"B": "from-env"}

    applied = apply_local_settings(tmp_path, environ)

    assert environ == {"A": "from-file", "B": "from-env", "N": "3", "F": "true"}
    assert sorted(applied) == ["A", "F", "N"]


def test_missing_local_settings_change_nothing(tmp_path):
    environ: dict[str, str] = {}

    assert apply_local_settings(tmp_path, environ) == []
    assert environ == {}


def test_encrypted_or_malformed_local_settings_refuse_start(tmp_path):
    write_settings(tmp_path, {"IsEncrypted": True, "Values": {}})
    with pytest.raises(StartupError, match="encrypted"):
        apply_local_settings(tmp_path, {})

    (tmp_path / "local.settings.json").write_text("{oops", encoding="utf-8")
    with pytest.raises(StartupError, match="cannot read"):
        apply_local_settings(tmp_path, {})


@pytest.mark.parametrize(
    ("host_json", "prefix"),
    [
        (None, "api"),
        ({"version": "2.0"}, "api"),
        ({"extensions": {"http": {"routePrefix": ""}}}, ""),
        ({"extensions": {"http": {"routePrefix": "/v2/"}}}, "v2"),
    ],
)
def test_route_prefix_comes_from_host_json(tmp_path, host_json, prefix):
    if host_json is not None:
        (tmp_path / "host.json").write_text(json.dumps(host_json), encoding="utf-8")

    assert route_prefix(read_host_json(tmp_path)) == prefix


def write_module(app_dir: Path, name: str, source: str) -> None:
    (app_dir / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")


def test_app_attribute_is_preferred_and_dfapp_is_found(tmp_path):
    write_module(
        tmp_path,
        "loader_case_preferred",
        """
        import azure.durable_functions as df
        import azure.functions as func

        other = func.FunctionApp()
        app = df.DFApp()

        @app.route(route="r")
        def r(req):
            return "r"
    """,
    )

    app = load_app(tmp_path, "loader_case_preferred")
    functions = enumerate_functions(app)

    assert [f.name for f in functions] == ["r"]
    assert functions[0].trigger.type == "httpTrigger"
    assert functions[0].trigger.direction == "in"
    assert [(b.type, b.name, b.direction) for b in functions[0].bindings] == [("http", "$return", "out")]


def test_several_unnamed_apps_are_ambiguous(tmp_path):
    write_module(
        tmp_path,
        "loader_case_ambiguous",
        """
        import azure.functions as func

        first = func.FunctionApp()
        second = func.FunctionApp()
    """,
    )

    with pytest.raises(StartupError, match="several function apps"):
        load_app(tmp_path, "loader_case_ambiguous")
    assert load_app(tmp_path, "loader_case_ambiguous:second") is not None


def test_module_without_an_app_is_refused(tmp_path):
    write_module(tmp_path, "loader_case_empty", "VALUE = 1\n")

    with pytest.raises(StartupError, match="no FunctionApp"):
        load_app(tmp_path, "loader_case_empty")
