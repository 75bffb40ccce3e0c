"""Probes of Herald's dependencies: readiness (Cosmos, Storage, Key Vault) and the poison queue's depth.

Storage is reached as the Functions host reaches it: `AzureWebJobsStorage` as a connection string,
or in its identity-based form (`AzureWebJobsStorage__queueServiceUri`, with the managed identity
`AzureWebJobsStorage__clientId` names). These are platform settings, read here and nowhere else.

Readiness is public (`/api/v1/health/ready` takes no token), so no caller decides how often the
dependencies are asked: `Readiness` probes at most once per `HERALD_READINESS_CACHE_SECONDS`,
callers that arrive meanwhile share the verdict, and each dependency is reached through one
client per process (Cosmos through the store's).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from shared.store.base import DocumentStore

if TYPE_CHECKING:
    from azure.keyvault.keys.aio import KeyClient
    from azure.storage.queue.aio import QueueServiceClient

    from shared.settings import HeraldSettings

log = logging.getLogger(__name__)

STORAGE_SETTING = "AzureWebJobsStorage"
POISON_QUEUE = "herald-inbound-poison"
# Azurite's documented public development account: what "UseDevelopmentStorage=true" means.
_DEVELOPMENT_STORAGE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
)

Probe = Callable[[], Awaitable[None]]


class StorageNotConfiguredError(Exception):
    """Neither AzureWebJobsStorage nor AzureWebJobsStorage__queueServiceUri is set."""


class Readiness:
    """The process's readiness verdict, probed at most once per `readiness_cache_seconds`."""

    def __init__(self, store: DocumentStore, settings: HeraldSettings) -> None:
        self._store = store
        self._settings = settings
        self._verdict: dict[str, bool] | None = None
        self._fresh_until = 0.0
        # One probe at a time: callers that arrive during it wait for its verdict.
        self._probing = asyncio.Lock()

    async def verdict(self) -> dict[str, bool]:
        """What `readiness` answered last, or a new answer once that one is older than the cache."""
        if self._verdict is not None and time.monotonic() < self._fresh_until:
            return self._verdict
        async with self._probing:
            if self._verdict is None or time.monotonic() >= self._fresh_until:
                self._verdict = await readiness(self._store, self._settings)
                self._fresh_until = time.monotonic() + self._settings.readiness_cache_seconds
            return self._verdict


async def readiness(store: DocumentStore, settings: HeraldSettings) -> dict[str, bool]:
    """Each dependency's name and whether it answered within the timeout; Key Vault only when used.

    Uncached: every call asks every dependency (`Readiness` is what the route uses).
    """
    probes: dict[str, Probe] = {"cosmos": store.ping, "storage": ping_storage}
    if settings.keyvault_url:
        vault_url, key_name = settings.keyvault_url, settings.kek_key_name
        probes["keyvault"] = lambda: ping_keyvault(vault_url, key_name)
    results = await asyncio.gather(
        *(_answers(name, probe, settings.readiness_timeout_seconds) for name, probe in probes.items())
    )
    return dict(zip(probes, results, strict=True))


async def _answers(name: str, probe: Probe, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            await probe()
    except Exception as exc:
        # The type only: error texts can carry account names and URLs.
        log.warning("readiness: %s is down (%s)", name, type(exc).__name__)
        return False
    return True


# One client per storage account setting (in Azure there is one; tests change it), kept open:
# its connections are reused from one probe to the next.
_queue_services: dict[str, QueueServiceClient] = {}


def _queue_service() -> QueueServiceClient:
    """The process's queue service client for the storage account the host uses."""
    from azure.storage.queue.aio import QueueServiceClient

    # No SDK retries: the probe's own timeout decides, and a dead address must fail at once.
    options: dict[str, Any] = {"retry_total": 0, "connection_timeout": 2, "read_timeout": 5}
    connection = os.environ.get(STORAGE_SETTING, "").strip()
    service_uri = os.environ.get(f"{STORAGE_SETTING}__queueServiceUri", "").strip()
    key = connection or service_uri
    client = _queue_services.get(key)
    if client is not None:
        return client
    if connection:
        if connection.lower() == "usedevelopmentstorage=true":
            connection = _DEVELOPMENT_STORAGE
        client = QueueServiceClient.from_connection_string(connection, **options)
    elif service_uri:
        client = QueueServiceClient(service_uri, credential=_identity(), **options)
    else:
        raise StorageNotConfiguredError(STORAGE_SETTING)
    _queue_services[key] = client
    return client


_credential: Any = None


def _identity() -> Any:
    """One credential per process (it caches its tokens): the identity the host uses for Storage."""
    global _credential
    if _credential is None:
        client_id = os.environ.get(f"{STORAGE_SETTING}__clientId")
        if client_id:
            from azure.identity.aio import ManagedIdentityCredential

            _credential = ManagedIdentityCredential(client_id=client_id)
        else:
            from azure.identity.aio import DefaultAzureCredential

            _credential = DefaultAzureCredential()
    return _credential


async def ping_storage() -> None:
    """Lists at most one queue: the cheapest call that proves the queue service answers us."""
    async for _ in _queue_service().list_queues(results_per_page=1).by_page():
        break


async def poison_depth() -> int:
    """Approximate message count of herald-inbound-poison (0 while it does not exist)."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        properties = await _queue_service().get_queue_client(POISON_QUEUE).get_queue_properties()
    except ResourceNotFoundError:
        return 0
    return int(properties.approximate_message_count or 0)


async def ping_keyvault(vault_url: str, key_name: str) -> None:
    """Reads the KEK key (its public half; the private one never leaves the vault): proves the
    vault answers and lets the app use its key."""
    await _vault(vault_url).get_key(key_name)


_vaults: dict[str, KeyClient] = {}
_vault_credential: Any = None


async def close_probe_clients() -> None:
    """Closes the clients the probes keep open (at the end of a process that built services)."""
    clients: list[Any] = [*_queue_services.values(), *_vaults.values()]
    _queue_services.clear()
    _vaults.clear()
    for client in clients:
        await client.close()


def _vault(vault_url: str) -> KeyClient:
    """The process's client of the vault at `vault_url`, kept open between probes."""
    global _vault_credential
    client = _vaults.get(vault_url)
    if client is None:
        from azure.identity.aio import DefaultAzureCredential
        from azure.keyvault.keys.aio import KeyClient

        if _vault_credential is None:
            _vault_credential = DefaultAzureCredential()
        client = _vaults[vault_url] = KeyClient(
            vault_url=vault_url, credential=_vault_credential, retry_total=0
        )
    return client
