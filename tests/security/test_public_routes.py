"""The public routes (no token): which they are, and that calling them more often costs nothing more.

`/api/v1/health/ready` asks Cosmos, Storage and Key Vault at most once per cache window however
many anonymous callers arrive (counted where the requests arrive: at loopback proxies in front of
Azurite and of a Key Vault address, and in Herald's count of Cosmos requests); the OpenAPI
document is built once per process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest

import function_app  # noqa: F401 (registers every route, as the host does)
from blueprints import health
from blueprints._http import ROUTES, Handler, serve
from devhost.testing import free_port
from shared import telemetry
from shared.probes import Readiness
from shared.services.registry import Services
from tests.support.proxy import TcpProxy, running_proxy
from tests.support.settings import AZURITE_CONNECTION

AZURITE_QUEUE = "127.0.0.1:10001"
WINDOW_SECONDS = 1.0
CALLERS = 20


async def _get(handler: Handler, route: str) -> tuple[int, Any]:
    request = func.HttpRequest(method="GET", url=f"http://localhost/api/{route}", headers={}, body=b"")
    response = await serve(request, handler, None, route=route)
    return response.status_code, json.loads(response.get_body())


def _cosmos_pings() -> float:
    """Herald's own count of the Cosmos requests readiness made (herald.store.operations)."""
    samples = re.findall(
        r"^herald_store_operations_total\{([^}]*)\} (\S+)$", telemetry.prometheus_text(), re.MULTILINE
    )
    return sum(
        float(value)
        for labels, value in samples
        if 'container="database"' in labels and 'operation="ping"' in labels
    )


@pytest.fixture
def storage_proxy() -> Iterator[TcpProxy]:
    with running_proxy(int(AZURITE_QUEUE.rsplit(":", 1)[1])) as proxy:
        yield proxy


@pytest.fixture
def vault_proxy() -> Iterator[TcpProxy]:
    """A Key Vault address that accepts connections and drops them: each probe is one connection."""
    with running_proxy(free_port()) as proxy:
        yield proxy


def test_the_public_routes_are_health_readiness_and_the_openapi_document() -> None:
    public = sorted(f"{route.method} /api/{route.route}" for route in ROUTES if route.scope is None)
    # /api/v1/health is registered on its own (it loads nothing, not even the route table).
    assert public == ["GET /api/v1/health/ready", "GET /api/v1/openapi.json"]


async def test_readiness_asks_each_dependency_at_most_once_per_cache_window(
    in_process: Services,
    monkeypatch: pytest.MonkeyPatch,
    storage_proxy: TcpProxy,
    vault_proxy: TcpProxy,
) -> None:
    from shared.services import registry

    monkeypatch.setenv(
        "AzureWebJobsStorage", AZURITE_CONNECTION.replace(AZURITE_QUEUE, f"127.0.0.1:{storage_proxy.port}")
    )
    settings = in_process.settings.model_copy(
        update={
            "keyvault_url": f"https://127.0.0.1:{vault_proxy.port}/",
            "readiness_cache_seconds": WINDOW_SECONDS,
            "readiness_timeout_seconds": 1.0,
        }
    )
    herald = dataclasses.replace(
        in_process, settings=settings, readiness=Readiness(in_process.store, settings)
    )
    monkeypatch.setattr(registry, "_services", herald)
    pings_before = _cosmos_pings()

    async def ready() -> tuple[int, Any]:
        return await _get(health.health_ready, "v1/health/ready")

    answers = list(await asyncio.gather(*(ready() for _ in range(CALLERS))))
    answers += [await ready() for _ in range(CALLERS)]

    down = {"cosmos": "up", "storage": "up", "keyvault": "down"}
    assert answers == [(503, {"status": "unavailable", "dependencies": down})] * (2 * CALLERS)
    asked = (storage_proxy.stats.requests, vault_proxy.stats.accepted, _cosmos_pings() - pings_before)
    assert asked == (1, 1, 1), "40 callers within the window: one request to each dependency"

    # After the window the next caller has the dependencies asked again, through the same
    # clients: Storage's request goes over the connection the first one opened.
    await asyncio.sleep(WINDOW_SECONDS)
    assert await ready() == (503, {"status": "unavailable", "dependencies": down})
    assert (storage_proxy.stats.requests, storage_proxy.stats.accepted) == (2, 1)
    assert (vault_proxy.stats.accepted, _cosmos_pings() - pings_before) == (2, 2)

    # And a verdict that changed is seen once the window has passed: Storage is cut off now.
    storage_proxy.cut(30.0)
    assert (await ready())[1]["dependencies"]["storage"] == "up"  # still the kept verdict
    await asyncio.sleep(WINDOW_SECONDS)
    status, body = await ready()
    assert (status, body["dependencies"]) == (503, {"cosmos": "up", "storage": "down", "keyvault": "down"})


async def test_the_openapi_document_is_built_once_per_process(
    in_process: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pydantic.json_schema

    builds: list[int] = []
    generate = pydantic.json_schema.models_json_schema

    def counted(*args: Any, **kwargs: Any) -> Any:
        builds.append(1)
        return generate(*args, **kwargs)

    monkeypatch.setattr(pydantic.json_schema, "models_json_schema", counted)
    answers = [await _get(health.openapi_document, "v1/openapi.json") for _ in range(10)]
    assert all(status == 200 for status, _ in answers)
    assert answers[0][1]["openapi"] == "3.1.0" and "/api/v1/app/{app_id}/msg" in answers[0][1]["paths"]
    assert all(document == answers[0][1] for _, document in answers)
    assert len(builds) <= 1
