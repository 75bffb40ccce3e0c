"""Load an app folder the way Core Tools and the Python worker do.

Settings come from ``local.settings.json``, host options from ``host.json``, and the functions from
one ``app.get_functions()`` call on the module's app object. Everything downstream works on the
plain ``FunctionSpec`` records built here, never on the SDK's decorator objects.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import sys
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import azure.functions as func

from devhost.errors import StartupError

logger = logging.getLogger(__name__)

LOCAL_SETTINGS_FILE = "local.settings.json"
HOST_JSON_FILE = "host.json"
DEFAULT_ROUTE_PREFIX = "api"
# The attribute the worker's docs and templates use; preferred when a module holds several apps.
PREFERRED_APP_ATTRIBUTE = "app"


@dataclass(frozen=True)
class BindingSpec:
    """One binding of a function, as ``get_dict_repr()`` describes it."""

    name: str
    type: str
    direction: str  # "in", "out" or "inout"
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    """One function of the app: its trigger, its other bindings and the callable to invoke."""

    name: str
    trigger: BindingSpec
    bindings: tuple[BindingSpec, ...]  # every binding except the trigger
    user_function: Callable[..., Any]
    parameters: tuple[str, ...]
    required_parameters: frozenset[str]

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.user_function)


def apply_local_settings(app_dir: Path, environ: MutableMapping[str, str]) -> list[str]:
    """Copy ``Values`` from local.settings.json into ``environ``; existing variables win.

    Returns the names that were set. Core Tools gives the process environment precedence too, which
    is what lets a test or a shell override a checked-in setting.
    """
    path = app_dir / LOCAL_SETTINGS_FILE
    if not path.is_file():
        return []
    document = _read_json_object(path)
    if document.get("IsEncrypted") is True:
        raise StartupError(f"{path} is encrypted (IsEncrypted: true); devhost reads plain-text Values only")
    values = document.get("Values") or {}
    if not isinstance(values, dict):
        raise StartupError(f"{path}: 'Values' must be an object")
    applied = []
    for key, value in values.items():
        if key in environ or value is None:
            continue
        # Core Tools expects strings; other JSON scalars are passed in their JSON spelling.
        environ[key] = value if isinstance(value, str) else json.dumps(value)
        applied.append(key)
    return applied


def read_host_json(app_dir: Path) -> dict[str, Any]:
    path = app_dir / HOST_JSON_FILE
    return _read_json_object(path) if path.is_file() else {}


def route_prefix(host_json: Mapping[str, Any]) -> str:
    """``extensions.http.routePrefix``; an empty string (no prefix) is a legal value."""
    http_options = (host_json.get("extensions") or {}).get("http") or {}
    prefix = http_options.get("routePrefix", DEFAULT_ROUTE_PREFIX)
    if not isinstance(prefix, str):
        raise StartupError("host.json: extensions.http.routePrefix must be a string")
    return prefix.strip("/")


def load_app(app_dir: Path, target: str) -> func.FunctionRegister:
    """Import ``module`` or ``module:attribute`` from ``app_dir`` and return its app object."""
    module_name, _, attribute = target.partition(":")
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if exc.name == module_name:
            raise StartupError(f"cannot import '{module_name}' from {app_dir}") from exc
        raise
    if attribute:
        app = getattr(module, attribute, None)
        if not isinstance(app, func.FunctionRegister):
            raise StartupError(f"{module_name}.{attribute} is not a function app")
        return app
    return _find_app(module_name, vars(module))


def _find_app(module_name: str, namespace: Mapping[str, Any]) -> func.FunctionRegister:
    # FunctionRegister, not FunctionApp: DFApp derives from FunctionRegister only, and it is the
    # base the Python worker indexes by.
    apps = {name: value for name, value in namespace.items() if isinstance(value, func.FunctionRegister)}
    if PREFERRED_APP_ATTRIBUTE in apps:
        return apps[PREFERRED_APP_ATTRIBUTE]
    if len(apps) == 1:
        return next(iter(apps.values()))
    if not apps:
        raise StartupError(f"module '{module_name}' defines no FunctionApp instance")
    raise StartupError(
        f"module '{module_name}' defines several function apps ({', '.join(sorted(apps))}); "
        f"name one with --app {module_name}:<attribute>"
    )


def enumerate_functions(app: func.FunctionRegister) -> list[FunctionSpec]:
    """Describe every function of ``app``; call once per app, as a second call raises."""
    try:
        functions = app.get_functions()
    except ValueError as exc:  # the SDK's own indexing errors, e.g. duplicate function names
        raise StartupError(f"the app failed indexing: {exc}") from exc
    return [_describe(function) for function in functions]


def _describe(function: func.Function) -> FunctionSpec:
    name = function.get_function_name()
    trigger = function.get_trigger()
    if trigger is None:  # get_functions() already refuses this; kept for the type checker
        raise StartupError(f"function {name} has no trigger")
    bindings = [_binding(b.get_dict_repr()) for b in function.get_bindings() if b is not trigger]
    user_function = function.get_user_function()
    signature = inspect.signature(user_function)
    required = frozenset(
        p.name
        for p in signature.parameters.values()
        if p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    )
    return FunctionSpec(
        name=str(name),
        trigger=_binding(trigger.get_dict_repr()),
        bindings=tuple(bindings),
        user_function=user_function,
        parameters=tuple(signature.parameters),
        required_parameters=required,
    )


def _binding(raw: Mapping[str, Any]) -> BindingSpec:
    direction = raw.get("direction")
    # The SDK stores a BindingDirection enum (IN/OUT/INOUT); plain strings are accepted as well.
    direction_name = direction.name if isinstance(direction, Enum) else str(direction)
    return BindingSpec(
        name=str(raw.get("name")),
        type=str(raw.get("type")),
        direction=direction_name.lower(),
        raw=dict(raw),
    )


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise StartupError(f"cannot read {path}: {exc}") from exc
    if not isinstance(document, dict):
        raise StartupError(f"{path} must hold a JSON object")
    return document
