"""Fixtures shared by the whole suite: settings for the local emulators, the store, Herald on devhost.

Every test session uses a database of its own on the Cosmos server, and tests isolate themselves
further by tenant or by application, so runs never see each other's data.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.services.registry import Services
from shared.settings import HeraldSettings
from shared.store.cosmos import CosmosStore
from tests.support.hosts import serving_herald
from tests.support.offline import offline_tests_stay_off_the_network  # noqa: F401 (autouse)
from tests.support.receivers import Receiver, running_receiver
from tests.support.settings import FAST_RETRIES, settings_of
from tests.support.settings import herald_env as local_herald_env
from tests.support.tokens import Issuer, Minter


@pytest.fixture(scope="session")
def token_issuer() -> Issuer:
    """The test issuer: Herald trusts its JWKS; its private key only signs tokens here."""
    return Issuer()


@pytest.fixture(scope="session")
def signing_key(token_issuer: Issuer) -> rsa.RSAPrivateKey:
    return token_issuer.key


@pytest.fixture(scope="session")
def jwks(token_issuer: Issuer) -> str:
    return token_issuer.jwks


@pytest.fixture(scope="session")
def mint(token_issuer: Issuer) -> Minter:
    """Issues access tokens like Entra ID would: `mint(tenant, scopes=..., **claim_overrides)`.

    `tenant` is the calling application (`azp`), the claim Herald names tenants by.
    """
    return token_issuer.mint


@pytest.fixture(scope="session")
def herald_env(token_issuer: Issuer) -> dict[str, str]:
    """The app settings of a local Herald for this test session."""
    return local_herald_env(token_issuer)


@pytest.fixture(scope="session")
def settings(herald_env: dict[str, str]) -> HeraldSettings:
    return settings_of(herald_env)


@pytest.fixture(scope="session")
async def store(settings: HeraldSettings) -> AsyncIterator[CosmosStore]:
    store = CosmosStore.from_settings(settings)
    await store.create_schema()
    yield store
    await store.close()


@pytest.fixture(scope="session")
async def services(store: CosmosStore, settings: HeraldSettings) -> AsyncIterator[Services]:
    services = Services.build(store, settings)
    yield services
    await services.close()


@pytest.fixture(scope="session")
def operations_url(herald_env: dict[str, str]) -> Iterator[str]:
    """Herald for the background-task and operations tests: fast retries; recoveries and replays in
    batches of 2, so a handful of messages runs their workflows several times; and no breaker (these
    tests fail endpoints on purpose, and an open circuit would hold their attempts back)."""
    env = {**herald_env, **FAST_RETRIES, "HERALD_RECOVER_BATCH_SIZE": "2", "HERALD_BREAKER_FAILURES": "1000"}
    with serving_herald(env) as url:
        yield url


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """A webhook receiver of the module's own; each test sends to paths of its own."""
    with running_receiver() as running:
        yield running


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch, herald_env: dict[str, str], services: Services) -> Services:
    """Functions called in this process as the host calls them: this session's app settings in the
    environment, every route registered, and the blueprints' `get_services()` answering `services`."""
    import function_app  # noqa: F401 (registers every route, as the host does)
    from shared.services import registry

    for name, value in herald_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(registry, "_services", services)
    return services


@pytest.fixture
def tenant() -> str:
    """A tenant of the test's own: nothing another test writes is visible to it."""
    return f"tenant-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def herald_url(herald_env: dict[str, str]) -> Iterator[str]:
    """Herald served by devhost over real HTTP, against the emulators."""
    with serving_herald(herald_env) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis server of the session's own on a free loopback port (Debian's redis-server)."""
    import shutil
    import subprocess

    import redis

    from devhost.testing import free_port

    binary = shutil.which("redis-server")
    assert binary, "redis-server is missing: `make test` installs it (apt-get install redis-server)"
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except (OSError, redis.ConnectionError):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
