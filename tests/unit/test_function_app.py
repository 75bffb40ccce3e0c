"""The composition root: what the Functions host will index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

pytestmark = pytest.mark.offline

ROOT = Path(__file__).resolve().parents[2]


def _trigger(function: func.Function) -> Any:
    return function.get_trigger()


def _functions() -> list[func.Function]:
    import importlib

    import function_app

    # get_functions() may be called once per app object, so index a fresh one.
    return list(importlib.reload(function_app).app.get_functions())


def test_every_http_function_is_anonymous_because_herald_checks_tokens_itself() -> None:
    http = [f for f in _functions() if _trigger(f).type == "httpTrigger"]
    assert len(http) >= 30
    for function in http:
        assert _trigger(function).auth_level == func.AuthLevel.ANONYMOUS, function.get_function_name()


def test_svix_core_routes_are_registered() -> None:
    routes = {
        (method.value if hasattr(method, "value") else str(method), _trigger(f).route)
        for f in _functions()
        if _trigger(f).type == "httpTrigger"
        for method in _trigger(f).methods
    }
    expected = {
        ("GET", "v1/health"),
        ("GET", "v1/app"),
        ("POST", "v1/app"),
        ("PATCH", "v1/app/{app_id}"),
        ("POST", "v1/app/{app_id}/endpoint/{endpoint_id}/secret/rotate"),
        ("PATCH", "v1/app/{app_id}/endpoint/{endpoint_id}/headers"),
        ("GET", "v1/app/{app_id}/endpoint/{endpoint_id}/stats"),
        ("DELETE", "v1/event-type/{event_type_name}"),
        ("POST", "v1/event-type/import/openapi"),
        ("PUT", "v1/stats/usage/event-types"),
        ("POST", "v1/stats/usage/app"),
        ("POST", "v1/environment/export"),
        ("POST", "v1/environment/import"),
        ("POST", "v1/app/{app_id}/msg"),
        ("DELETE", "v1/app/{app_id}/msg/{msg_id}/content"),
        ("POST", "v1/app/{app_id}/msg/precheck/active"),
        ("POST", "v1/app/{app_id}/msg/bulk-expunge"),
        ("POST", "v1/app/{app_id}/msg/expunge-all-contents"),
        ("DELETE", "v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/content"),
        ("GET", "v1/app/{app_id}/attempt/endpoint/{endpoint_id}"),
        ("GET", "v1/app/{app_id}/attempt/msg/{msg_id}"),
        ("GET", "v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}"),
        ("GET", "v1/app/{app_id}/msg/{msg_id}/endpoint"),
        ("GET", "v1/app/{app_id}/endpoint/{endpoint_id}/msg"),
        ("POST", "v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend"),
        ("POST", "v1/app/{app_id}/endpoint/{endpoint_id}/recover"),
        ("POST", "v1/app/{app_id}/endpoint/{endpoint_id}/replay-missing"),
        ("POST", "v1/app/{app_id}/endpoint/{endpoint_id}/bulk-replay"),
        ("POST", "v1/app/{app_id}/endpoint/{endpoint_id}/send-example"),
        ("GET", "v1/app/{app_id}/endpoint/{endpoint_id}/attempt-stats"),
        ("GET", "v1/background-task"),
        ("GET", "v1/background-task/{task_id}"),
        ("GET", "v1/operational-webhook/endpoint"),
        ("POST", "v1/operational-webhook/endpoint"),
        ("PUT", "v1/operational-webhook/endpoint/{endpoint_id}"),
        ("DELETE", "v1/operational-webhook/endpoint/{endpoint_id}"),
        ("POST", "v1/operational-webhook/endpoint/{endpoint_id}/secret/rotate"),
        ("PUT", "v1/operational-webhook/endpoint/{endpoint_id}/headers"),
    }
    assert expected <= routes


def test_inbound_queue_listens_on_herald_inbound() -> None:
    queue = [f for f in _functions() if _trigger(f).type == "queueTrigger"]
    assert [_trigger(f).queue_name for f in queue] == ["herald-inbound"]


def test_host_json_sets_queue_encoding_explicitly() -> None:
    host = json.loads((ROOT / "host.json").read_text())
    assert host["extensions"]["queues"]["messageEncoding"] == "none"
    assert host["extensions"]["http"]["routePrefix"] == "api"


def test_requirements_are_pinned_and_exclude_the_worker() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert all("==" in line for line in lines), lines
    assert not any(line.startswith("azure-functions-worker") for line in lines)


def test_every_setting_is_documented_in_the_example_settings_and_readme() -> None:
    from shared.settings import HeraldSettings

    example = json.loads((ROOT / "local.settings.example.json").read_text())["Values"]
    readme = (ROOT / "README.md").read_text()
    for name in HeraldSettings.model_fields:
        env = f"HERALD_{name.upper()}"
        assert env in example, env
        assert env in readme, env
