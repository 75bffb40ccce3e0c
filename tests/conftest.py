"""Fixtures shared by the whole suite: settings for the local emulators, the store, Herald on devhost.

Every test session uses a database of its own on the Cosmos server, and tests isolate themselves
further by tenant or by application, so runs never see each other's data.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

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


ISSUER = "https://login.herald.test/tests/v2.0"
AUDIENCE = "api://herald-tests"
KID = "test-key-1"
ALL_SCOPES = "herald.read herald.write herald.admin"
# The issuer's one directory: like Entra's `tid`, every token carries it; the tenant is `azp`.
DIRECTORY_ID = "tests-directory"
# The tenant the acceptance suite's tokens carry.
ACCEPTANCE_TENANT = "tenant-acceptance"

Minter = Callable[..., str]


@pytest.fixture(scope="session")
def signing_key() -> rsa.RSAPrivateKey:
    """The test issuer's private key; Herald only ever sees its public JWKS."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def jwks(signing_key: rsa.RSAPrivateKey) -> str:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    return json.dumps({"keys": [{**public, "kid": KID, "use": "sig", "alg": "RS256"}]})


@pytest.fixture(scope="session")
def mint(signing_key: rsa.RSAPrivateKey) -> Minter:
    """Issues access tokens like Entra ID would: `mint(tenant, scopes=..., **claim_overrides)`.

    `tenant` is the calling application (`azp`), the claim Herald names tenants by.
    """

    def issue(
        tenant: str, scopes: str = ALL_SCOPES, *, headers: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "tid": DIRECTORY_ID,
            "azp": tenant,
            "sub": "test-user",
            "scp": scopes,
        }
        payload |= {"iat": now, "nbf": now, "exp": now + 3600, **claims}
        return jwt.encode(payload, signing_key, algorithm="RS256", headers={"kid": KID, **(headers or {})})

    return issue


def portal_key() -> str:
    """A new app portal signing key, as HERALD_PORTAL_LOCAL_KEY takes it (base64 of PKCS#8 DER)."""
    der = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return base64.b64encode(der).decode()


@pytest.fixture(scope="session")
def herald_env(jwks: str) -> dict[str, str]:
    """The app settings of a local Herald for this test session."""
    return {
        "AzureWebJobsStorage": AZURITE_CONNECTION,
        "TASK_HUB_NAME": "heraldtests",
        "HERALD_SWEEP_SCHEDULE": "0 */1 * * * *",
        "HERALD_COSMOS_ENDPOINT": os.environ.get("HERALD_TEST_COSMOS_ENDPOINT", "https://localhost:8081"),
        "HERALD_COSMOS_KEY": EMULATOR_KEY,
        "HERALD_COSMOS_VERIFY_TLS": "false",
        "HERALD_COSMOS_CREATE_CONTAINERS": "true",
        "HERALD_COSMOS_DATABASE": f"herald-test-{uuid.uuid4().hex[:8]}",
        "HERALD_DELIVERY_ALLOWED_CIDRS": "127.0.0.0/8,::1/128",
        "HERALD_AUTH_ISSUER": ISSUER,
        "HERALD_AUTH_AUDIENCE": AUDIENCE,
        "HERALD_AUTH_JWKS": jwks,
        "HERALD_LOCAL_KEK": base64.b64encode(os.urandom(32)).decode(),
        "HERALD_PORTAL_LOCAL_KEY": portal_key(),
        "HERALD_DELIVERY_ALLOW_HTTP": "true",
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
async def services(store: CosmosStore, settings: HeraldSettings) -> AsyncIterator[Services]:
    services = Services.build(store, settings)
    yield services
    await services.close()


@pytest.fixture
def tenant() -> str:
    """A tenant of the test's own: nothing another test writes is visible to it."""
    return f"tenant-{uuid.uuid4().hex[:12]}"


@contextmanager
def serving_herald(env: dict[str, str]) -> Iterator[str]:
    """Herald on a devhost of its own; yields its base URL.

    Each host gets its own Durable state file: no two hosts share one, and no workflow outlives
    the test run into the next.
    """
    from devhost.testing import run_devhost

    with tempfile.TemporaryDirectory(prefix="herald-durable-") as state:
        durable = {"DEVHOST_DURABLE_DB": str(Path(state) / "durable.sqlite3")}
        with run_devhost(ROOT, env={**env, **durable}) as host:
            yield host.base_url


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
