"""Probes of Herald's dependencies: readiness (Cosmos, Storage, Key Vault) and the poison queue's depth.

Storage is reached as the Functions host reaches it: `AzureWebJobsStorage` as a connection string,
or in its identity-based form (`AzureWebJobsStorage__queueServiceUri`, with the managed identity
`AzureWebJobsStorage__clientId` names). These are platform settings, read here and nowhere else.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from shared.store.base import DocumentStore

if TYPE_CHECKING:
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


async def readiness(store: DocumentStore, settings: HeraldSettings) -> dict[str, bool]:
    """Each dependency's name and whether it answered within the timeout; Key Vault only when used."""
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


def _queue_service() -> QueueServiceClient:
    from azure.storage.queue.aio import QueueServiceClient

    # No SDK retries: the probe's own timeout decides, and a dead address must fail at once.
    options: dict[str, Any] = {"retry_total": 0, "connection_timeout": 2, "read_timeout": 5}
    connection = os.environ.get(STORAGE_SETTING, "").strip()
    if connection:
        if connection.lower() == "usedevelopmentstorage=true":
            connection = _DEVELOPMENT_STORAGE
        return QueueServiceClient.from_connection_string(connection, **options)
    service_uri = os.environ.get(f"{STORAGE_SETTING}__queueServiceUri", "").strip()
    if not service_uri:
        raise StorageNotConfiguredError(STORAGE_SETTING)
    return QueueServiceClient(service_uri, credential=_identity(), **options)


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
    async with _queue_service() as client:
        async for _ in client.list_queues(results_per_page=1).by_page():
            break


async def poison_depth() -> int:
    """Approximate message count of herald-inbound-poison (0 while it does not exist)."""
    from azure.core.exceptions import ResourceNotFoundError

    async with _queue_service() as client:
        try:
            properties = await client.get_queue_client(POISON_QUEUE).get_queue_properties()
        except ResourceNotFoundError:
            return 0
    return int(properties.approximate_message_count or 0)


async def ping_keyvault(vault_url: str, key_name: str) -> None:
    """Reads the KEK key (its public half; the private one never leaves the vault): proves the
    vault answers and lets the app use its key."""
    from azure.identity.aio import DefaultAzureCredential
    from azure.keyvault.keys.aio import KeyClient

    global _vault_credential
    if _vault_credential is None:
        _vault_credential = DefaultAzureCredential()
    async with KeyClient(vault_url=vault_url, credential=_vault_credential, retry_total=0) as client:
        await client.get_key(key_name)


_vault_credential: Any = None
