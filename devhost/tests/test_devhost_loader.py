"""Loading settings, host.json and the app object, checked without a server."""

import json
from pathlib import Path

import pytest

from devhost.errors import StartupError
from devhost.loader import (
    apply_local_settings,
    read_host_json,
    route_prefix,
)

pytestmark = pytest.mark.offline


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
