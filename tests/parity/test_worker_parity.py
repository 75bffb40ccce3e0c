"""Azure would load every function: the worker's index, the host's metadata rules, the app settings.

The app is indexed by the pinned `azure-functions-runtime` in a clean interpreter (index_app.py),
exactly as the worker Azure runs for Python 3.13+ does; one refusal there means no function loads.
The host's rules for the metadata the worker returns are written out here, not taken from devhost.
The Bicep is read with pycep-parser, the parser checkov uses.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser
from pycep.transformer import BicepToJson

from shared.settings import HeraldSettings

pytestmark = pytest.mark.offline

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_APP_BICEP = ROOT / "infra" / "modules" / "functionapp.bicep"
# Every function of function_app.py: a change here is a function added or removed on purpose.
FUNCTION_COUNT = 88

# The rules the Functions host applies to indexed metadata before it loads any function.
FUNCTION_NAME = re.compile(r"^[a-z][a-z0-9_\-]{0,127}$", re.IGNORECASE)
BINDING_NAME = re.compile(r"^([a-zA-Z][a-zA-Z0-9]{0,127}|\$return)$")
# The host resolves `%NAME%` in binding values (and in host.json) from the app settings.
SETTING_REFERENCE = re.compile(r"%([^%]+)%")


@cache
def _indexed() -> dict[str, Any]:
    """The worker's index of function_app.py: function names, raw bindings, FunctionRegisters."""
    result = subprocess.run(
        [sys.executable, "-I", str(Path(__file__).with_name("index_app.py")), str(ROOT)],
        cwd=ROOT,
        # Nothing from the caller's environment: the app must index on what Azure gives it. It
        # reads its settings on first use, not at import, so it needs none to be indexed.
        env={},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"the worker refused the app:\n{result.stderr}"
    indexed: dict[str, Any] = json.loads(result.stdout)
    return indexed


def _functions() -> list[dict[str, Any]]:
    functions: list[dict[str, Any]] = _indexed()["functions"]
    return functions


def test_the_worker_indexes_every_function() -> None:
    assert len(_functions()) == FUNCTION_COUNT
    # The worker takes the one FunctionRegister at module level; two would fail the index.
    assert _indexed()["registers"] == 1


def test_function_names_follow_the_host_rules() -> None:
    names = [function["name"] for function in _functions()]
    for name in names:
        assert FUNCTION_NAME.fullmatch(name), name
        assert name.lower() != "host", name
    assert len({name.lower() for name in names}) == len(names), "function names repeat (ignoring case)"


def _binding_problems(bindings: list[dict[str, Any]]) -> list[str]:
    if not bindings:
        return ["no binding"]
    names = [binding["name"] for binding in bindings]
    problems = [f"binding name {name!r}" for name in names if not BINDING_NAME.fullmatch(name)]
    if len({name.lower() for name in names}) != len(names):
        problems.append(f"binding names repeat: {names}")
    triggers = [binding["type"] for binding in bindings if binding["type"].lower().endswith("trigger")]
    if len(triggers) != 1:
        problems.append(f"exactly one trigger, not {triggers}")
    return problems


def test_bindings_follow_the_host_rules() -> None:
    problems = {
        function["name"]: found
        for function in _functions()
        if (found := _binding_problems(function["bindings"]))
    }
    assert not problems


# --- the app settings the bindings and host.json name ---------------------------------------------


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _referenced_settings() -> dict[str, str]:
    """Every `%NAME%` in a binding or in host.json, with where it is named."""
    named: dict[str, str] = {}
    for function in _functions():
        for text in _strings(function["bindings"]):
            for name in SETTING_REFERENCE.findall(text):
                named[name] = f"function {function['name']}"
    for text in _strings(json.loads((ROOT / "host.json").read_text())):
        for name in SETTING_REFERENCE.findall(text):
            named[name] = "host.json"
    return named


@cache
def _bicep() -> tuple[Any, dict[str, Any]]:
    """functionapp.bicep as pycep reads it: the template, and the site's nested child resources.

    pycep keeps only the last child resource nested in a resource (they share one key in its
    output), so the children are read from its syntax tree one by one.
    """
    template: Any = BicepParser().parse(file_path=FUNCTION_APP_BICEP)
    tree = BicepParser().lark_parser.parse(FUNCTION_APP_BICEP.read_text())
    site = next(node for node in tree.find_data("resource") if str(node.children[1]) == "site")
    children: dict[str, Any] = {}
    for node in site.find_data("child_resource"):
        # pycep turns a child resource into the pair ("__child_resource__", resource).
        pair: Any = BicepToJson(add_line_numbers=False).transform(node)
        children[pair[1]["__name__"]] = pair[1]["__attrs__"]
    return template, children


def _always_set(value: Any, variables: dict[str, Any]) -> dict[str, Any]:
    """The settings an object expression always sets: a literal, a variable, a union or a ternary."""
    if isinstance(value, str):
        # pycep writes a reference as its bare name: here it must name a variable.
        assert value in variables, f"not a variable of the Bicep: {value!r}"
        return _always_set(variables[value]["value"], variables)
    function = value.get("function", {})
    if function.get("type") == "union":
        return {
            name: setting
            for argument in function["parameters"].values()
            for name, setting in _always_set(argument, variables).items()
        }
    operator = value.get("operator", {})
    if operator.get("type") == "conditional":
        # Set only when a parameter says so: not a setting the host can count on.
        operands = operator["operands"]
        true_value = _always_set(operands["true_value"], variables)
        false_value = _always_set(operands["false_value"], variables)
        return {name: true_value[name] for name in true_value.keys() & false_value.keys()}
    assert not function and not operator, f"an expression this test cannot read: {value}"
    return dict(value)


def _bicep_app_settings() -> dict[str, Any]:
    template, children = _bicep()
    site = template["resources"]["site"]
    assert site["type"] == "Microsoft.Web/sites" and "functionapp" in site["config"]["kind"]
    config = children["appSettings"]
    assert config["type"] == "config" and config["config"]["name"] == "appsettings"
    return _always_set(config["config"]["properties"], template["variables"])


def test_the_bicep_sets_every_setting_a_binding_or_host_json_names() -> None:
    named = _referenced_settings()
    settings = _bicep_app_settings()
    missing = {name: where for name, where in named.items() if name not in settings}
    assert not missing, f"named as %NAME% but not set by infra/modules/functionapp.bicep: {missing}"
    # The scan finds the names known today (the sweeper's schedule, the task hub).
    assert {"HERALD_SWEEP_SCHEDULE", "TASK_HUB_NAME"} <= set(named), named
    example = json.loads((ROOT / "local.settings.example.json").read_text())["Values"]
    assert set(named) <= set(example), f"not in local.settings.example.json: {set(named) - set(example)}"


def test_herald_settings_the_bindings_name_have_the_app_defaults_in_the_bicep() -> None:
    settings = _bicep_app_settings()
    prefix = HeraldSettings.model_config.get("env_prefix", "")
    for name in _referenced_settings():
        if name.startswith(prefix):
            field = HeraldSettings.model_fields[name.removeprefix(prefix).lower()]
            assert settings.get(name) == field.default, name


def test_the_bicep_runs_the_python_version_of_the_project() -> None:
    template, _ = _bicep()
    runtime = template["resources"]["site"]["config"]["properties"]["functionAppConfig"]["runtime"]
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    minor = re.fullmatch(r">=(3\.\d+),<3\.\d+", requires)
    assert minor, f"requires-python {requires!r} should name one minor version (>=3.X,<3.Y)"
    assert runtime == {"name": "python", "version": minor[1]}
