"""Readiness names each dependency up or down (503 when one is down); /health touches none."""

from __future__ import annotations

import dataclasses
import json
import time
from urllib.parse import urlsplit

import azure.functions as func
import pytest

from blueprints import health
from devhost.testing import free_port
from shared.probes import Readiness, readiness
from shared.services.registry import Services
from tests.support.receivers import Tarpits
from tests.support.settings import AZURITE_CONNECTION
from tests.telemetry.conftest import Api


@pytest.fixture(autouse=True)
def fresh_verdict(in_process: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's readiness asks its own dependencies: no verdict is kept from another test."""
    from shared.services import registry

    fresh = dataclasses.replace(in_process, readiness=Readiness(in_process.store, in_process.settings))
    monkeypatch.setattr(registry, "_services", fresh)


async def _ready(api: Api) -> tuple[int, dict[str, object]]:
    response = await api.call(health.health_ready, "GET", "v1/health/ready", scope=None)
    return response.status_code, json.loads(response.get_body())


async def test_ready_lists_cosmos_and_storage_and_not_an_unconfigured_key_vault(api: Api) -> None:
    assert await _ready(api) == (200, {"status": "ok", "dependencies": {"cosmos": "up", "storage": "up"}})


async def test_a_dead_storage_account_makes_readiness_503_naming_storage(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = AZURITE_CONNECTION.replace("127.0.0.1:10001", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("AzureWebJobsStorage", dead)
    started = time.monotonic()
    status, body = await _ready(api)
    assert (status, body) == (
        503,
        {"status": "unavailable", "dependencies": {"cosmos": "up", "storage": "down"}},
    )
    assert time.monotonic() - started < 5  # refused at once, not retried


async def test_the_identity_based_storage_setting_is_read_too(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No connection string: the host's identity-based form. Without an identity here it is down,
    # but it is probed (a missing setting would be down for another reason: checked below).
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    monkeypatch.setenv(
        "AzureWebJobsStorage__queueServiceUri", f"http://127.0.0.1:{free_port()}/devstoreaccount1"
    )
    status, body = await _ready(api)
    assert (status, body["dependencies"]) == (503, {"cosmos": "up", "storage": "down"})


async def test_a_configured_key_vault_is_probed_and_given_up_on_after_the_readiness_timeout(
    in_process: Services,
) -> None:
    # A vault address that accepts the connection and never answers: only the timeout ends the probe.
    tarpits = Tarpits(1)
    await tarpits.start()
    try:
        vault = f"https://127.0.0.1:{urlsplit(tarpits.url).port}/"
        settings = in_process.settings.model_copy(
            update={"keyvault_url": vault, "readiness_timeout_seconds": 0.5}
        )
        started = time.monotonic()
        verdict = await readiness(in_process.store, settings)
        waited = time.monotonic() - started
    finally:
        await tarpits.stop()
    assert verdict == {"cosmos": True, "storage": True, "keyvault": False}
    assert tarpits.accepted >= 1, "the vault was never asked"
    # Down after the setting's 0.5 s, well before the default 2 s.
    assert 0.5 <= waited < 1.5, waited


def test_health_touches_no_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.services import registry

    monkeypatch.setattr(registry, "_services", None)
    monkeypatch.setenv("HERALD_COSMOS_ENDPOINT", f"https://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AzureWebJobsStorage", "")
    request = func.HttpRequest(method="GET", url="http://localhost/api/v1/health", body=b"")
    response = health.health(request)
    assert (response.status_code, json.loads(response.get_body())) == (200, {"status": "ok"})
    assert registry._services is None
