"""Herald's settings for a local run against the emulators: the one place tests, benchmarks and
fault runs get them from.

Every run gets a Cosmos database of its own (`herald_env` names a new one each call), so runs
never see each other's data.
"""

from __future__ import annotations

import base64
import os
import re
import uuid
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from devhost.storage import AZURITE_CONNECTION_STRING
from shared.settings import HeraldSettings
from tests.support.tokens import Issuer

ROOT = Path(__file__).resolve().parents[2]
# The Cosmos DB emulator's well-known account key (the local server accepts it).
EMULATOR_KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
COSMOS_ENDPOINT = os.environ.get("HERALD_TEST_COSMOS_ENDPOINT", "https://localhost:8081")
# The shared Azurite's development account, on its default ports.
AZURITE_CONNECTION = AZURITE_CONNECTION_STRING
LOOPBACK_CIDRS = "127.0.0.0/8,::1/128"
_AZURITE_PORTS = {"blob": 10000, "queue": 10001, "table": 10002}
# Durable timers a hundred times faster than the wall clock: a retry 100 s away in the workflow's
# clock (the schedule's one step, or the floor) comes one second into the test's.
FAST_RETRIES = {
    "DEVHOST_DURABLE_TIMER_SCALE": "0.01",
    "HERALD_RETRY_SCHEDULE": "100",
    "HERALD_RETRY_FLOOR_SECONDS": "100",
    "HERALD_DELIVERY_TIMEOUT_SECONDS": "2",
}


def azurite_connection(*, blob: int, queue: int, table: int) -> str:
    """The development account's connection string for an Azurite listening on these loopback ports."""
    ports = {str(_AZURITE_PORTS["blob"]): blob, str(_AZURITE_PORTS["queue"]): queue}
    ports[str(_AZURITE_PORTS["table"])] = table
    return re.sub(r"(?<=127\.0\.0\.1:)(\d+)", lambda port: str(ports[port[1]]), AZURITE_CONNECTION)


def portal_key() -> str:
    """A new app portal signing key, as HERALD_PORTAL_LOCAL_KEY takes it (base64 of PKCS#8 DER)."""
    der = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return base64.b64encode(der).decode()


def herald_env(issuer: Issuer, *, database_prefix: str = "herald-test", **overrides: str) -> dict[str, str]:
    """The app settings of a local Herald on the shared emulators, trusting `issuer`'s tokens.

    A database of its own (`<database_prefix>-<8 hex>`), a new KEK, loopback endpoints allowed over
    plain HTTP; `overrides` (any app setting, `HERALD_` or not) win.
    """
    return {
        "AzureWebJobsStorage": AZURITE_CONNECTION,
        "TASK_HUB_NAME": "heraldtests",
        "HERALD_SWEEP_SCHEDULE": "0 */1 * * * *",
        "HERALD_COSMOS_ENDPOINT": COSMOS_ENDPOINT,
        "HERALD_COSMOS_KEY": EMULATOR_KEY,
        "HERALD_COSMOS_VERIFY_TLS": "false",
        "HERALD_COSMOS_CREATE_CONTAINERS": "true",
        "HERALD_COSMOS_DATABASE": f"{database_prefix}-{uuid.uuid4().hex[:8]}",
        "HERALD_DELIVERY_ALLOWED_CIDRS": LOOPBACK_CIDRS,
        "HERALD_AUTH_ISSUER": issuer.issuer,
        "HERALD_AUTH_AUDIENCE": issuer.audience,
        "HERALD_AUTH_JWKS": issuer.jwks,
        "HERALD_LOCAL_KEK": base64.b64encode(os.urandom(32)).decode(),
        "HERALD_PORTAL_LOCAL_KEY": portal_key(),
        "HERALD_DELIVERY_ALLOW_HTTP": "true",
        **overrides,
    }


def settings_of(env: dict[str, str]) -> HeraldSettings:
    """The settings object a host given `env` would read (its `HERALD_` entries)."""
    fields = {k.removeprefix("HERALD_").lower(): v for k, v in env.items() if k.startswith("HERALD_")}
    return HeraldSettings(**fields)  # type: ignore[arg-type]
