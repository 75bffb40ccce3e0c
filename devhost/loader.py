"""Read an app folder the way Core Tools and the Functions host do.

Settings come from ``local.settings.json`` and host options from ``host.json``. The functions are
indexed by the worker runtime (``devhost.worker``), whose metadata becomes the plain
``FunctionSpec`` records defined here; everything downstream works on those.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devhost.errors import StartupError

logger = logging.getLogger(__name__)

LOCAL_SETTINGS_FILE = "local.settings.json"
HOST_JSON_FILE = "host.json"
DEFAULT_ROUTE_PREFIX = "api"


@dataclass(frozen=True)
class BindingSpec:
    """One binding of a function, as ``get_dict_repr()`` describes it."""

    name: str
    type: str
    direction: str  # "in", "out" or "inout"
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    """One function of the app, as the worker runtime's metadata describes it."""

    name: str
    function_id: str  # the runtime's id, named in every invocation request
    trigger: BindingSpec
    bindings: tuple[BindingSpec, ...]  # every binding except the trigger


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


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise StartupError(f"cannot read {path}: {exc}") from exc
    if not isinstance(document, dict):
        raise StartupError(f"{path} must hold a JSON object")
    return document
