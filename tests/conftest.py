"""Fixtures shared by the whole suite: settings for the local emulators, the store, Herald on devhost.

Every test session uses a database of its own on the Cosmos server, and tests isolate themselves
further by tenant or by application, so runs never see each other's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared.services.registry import Services
from shared.settings import HeraldSettings
from shared.store.cosmos import CosmosStore

ROOT = Path(__file__).resolve().parent.parent
EMULATOR_KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
AZURITE_CONNECTION = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
    "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
    "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)


@pytest.fixture(scope="session")
def herald_env() -> dict[str, str]:
    """The app settings of a local Herald for this test session."""
    return {
        "AzureWebJobsStorage": AZURITE_CONNECTION,
        "HERALD_COSMOS_ENDPOINT": os.environ.get("HERALD_TEST_COSMOS_ENDPOINT", "https://localhost:8081"),
        "HERALD_COSMOS_KEY": EMULATOR_KEY,
        "HERALD_COSMOS_VERIFY_TLS": "false",
        "HERALD_COSMOS_CREATE_CONTAINERS": "true",
        "HERALD_COSMOS_DATABASE": f"herald-test-{uuid.uuid4().hex[:8]}",
        "HERALD_DELIVERY_ALLOWED_CIDRS": "127.0.0.0/8,::1/128",
    }


@pytest.fixture(scope="session")
def settings(herald_env: dict[str, str]) -> HeraldSettings:
    keys = {k.removeprefix("HERALD_").lower(): v for k, v in herald_env.items() if k.startswith("HERALD_")}
    return HeraldSettings(**keys)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
async def store(settings: HeraldSettings) -> AsyncIterator[CosmosStore]:
    store = CosmosStore.from_settings(settings)
    await store.create_schema()
    yield store
    await store.close()


@pytest.fixture(scope="session")
def services(store: CosmosStore, settings: HeraldSettings) -> Services:
    return Services.build(store, settings)


@pytest.fixture
def tenant() -> str:
    """A tenant of the test's own: nothing another test writes is visible to it."""
    return f"tenant-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def herald_url(herald_env: dict[str, str]) -> Iterator[str]:
    """Herald served by devhost over real HTTP, against the emulators."""
    from devhost.testing import run_devhost

    with run_devhost(ROOT, env=herald_env) as host:
        yield host.base_url
