"""Cosmos DB backend of `DocumentStore`, on the async SDK, with one client per process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, ServiceRequestError, ServiceResponseError
from azure.core.pipeline.transport import AioHttpTransport
from azure.cosmos import PartitionKey as CosmosPartitionKey
from azure.cosmos.aio import ContainerProxy, CosmosClient, DatabaseProxy
from azure.cosmos.exceptions import (
    CosmosAccessConditionFailedError,
    CosmosBatchOperationError,
    CosmosClientTimeoutError,
    CosmosHttpResponseError,
    CosmosResourceExistsError,
    CosmosResourceNotFoundError,
)

from shared import telemetry
from shared.errors import ServiceUnavailableError
from shared.settings import HeraldSettings
from shared.store.base import (
    APPLICATIONS,
    DEAD_LETTERS,
    ENDPOINTS,
    EVENT_TYPES,
    IDEMPOTENCY,
    MESSAGES,
    PORTAL_REVOCATIONS,
    BatchFailedError,
    Doc,
    DocumentExistsError,
    EtagMismatchError,
    PartitionKey,
)

log = logging.getLogger(__name__)

TENANT = ["/tenantId"]
_FORBIDDEN_ID_CHARACTERS = frozenset("/\\?#")
TENANT_APP = ["/tenantId", "/appId"]


@dataclass(frozen=True)
class ContainerSpec:
    """How a container is laid out; the Bicep in infra/ creates the same containers in Azure."""

    name: str
    partition_key: list[str]
    excluded_paths: list[str] = field(default_factory=list)
    # -1: items expire only when they carry their own `ttl`.
    default_ttl: int | None = None
    # Paths a query orders by together (ORDER BY on two paths needs a composite index), each
    # indexed both ways: the local server serves only the directions an index names.
    sorted_together: list[tuple[str, str]] = field(default_factory=list)

    def indexing_policy(self) -> dict[str, Any]:
        policy: dict[str, Any] = {
            "indexingMode": "consistent",
            "includedPaths": [{"path": "/*"}],
            "excludedPaths": [{"path": path} for path in [*self.excluded_paths, '/"_etag"/?']],
        }
        if self.sorted_together:
            policy["compositeIndexes"] = [
                [{"path": path, "order": order} for path in paths]
                for paths in self.sorted_together
                for order in ("ascending", "descending")
            ]
        return policy


CONTAINERS: tuple[ContainerSpec, ...] = (
    # TTL on without a default: applications never expire, background tasks carry their own `ttl`.
    ContainerSpec(APPLICATIONS, TENANT, default_ttl=-1),
    ContainerSpec(EVENT_TYPES, TENANT, excluded_paths=["/schemas/*"]),
    ContainerSpec(ENDPOINTS, TENANT_APP, excluded_paths=["/secrets/*", "/headers/*"]),
    ContainerSpec(
        MESSAGES,
        TENANT_APP,
        # Payloads, a raw payload and its parameters, and receivers' answers are never queried.
        excluded_paths=["/payload/*", "/transformationsParams/*", "/response/?"],
        default_ttl=-1,
    ),
    ContainerSpec(IDEMPOTENCY, TENANT, excluded_paths=["/response/*"], default_ttl=-1),
    # Dead letters page on (receivedAt, id): receivedAt alone is not unique (instances record at once).
    ContainerSpec(
        DEAD_LETTERS,
        TENANT,
        excluded_paths=["/body/?"],
        default_ttl=-1,
        sorted_together=[("/receivedAt", "/id")],
    ),
    # Each revocation carries its own `ttl`: when no token it reaches can still be valid.
    ContainerSpec(PORTAL_REVOCATIONS, TENANT, default_ttl=-1),
)
_SPECS = {spec.name: spec for spec in CONTAINERS}


def _sdk_key(pk: PartitionKey) -> str | list[str]:
    # Single-path containers take a scalar key; hierarchical ones a list.
    return pk[0] if len(pk) == 1 else pk


# The outcome label of herald.store.operations for each Cosmos answer that is not a success.
_OUTCOMES = {404: "not_found", 409: "conflict", 412: "precondition_failed", 429: "throttled"}
# What the SDK raises for busy or failing servers has no class of its own: its status says it.
_TRANSIENT = (408, 429, 449, 500, 502, 503)


def _outcome(status: int | None) -> str:
    if status in _OUTCOMES:
        return _OUTCOMES[status]
    return "unavailable" if status in (408, 449) or (status or 0) >= 500 else "error"


@asynccontextmanager
async def _translated(
    deadline: float | None = None, container: str = "database", operation: str = "request"
) -> AsyncIterator[telemetry.StoreOperation]:
    """Turns an unreachable or overloaded Cosmos into a 503 the API can answer with.

    `deadline` bounds the whole operation, SDK retries included: a stalled server must not hold a
    caller past its own timeout (the Svix SDKs give up after 15 s). Every operation is counted and
    timed (herald.store.operations, herald.store.duration); callers that handle an answer
    themselves (a 404 read) set its outcome.
    """
    with telemetry.store_operation(container, operation) as measured:
        try:
            async with asyncio.timeout(deadline):
                yield measured
        except (TimeoutError, ServiceRequestError, ServiceResponseError, CosmosClientTimeoutError) as exc:
            measured.outcome = "unavailable"
            log.warning("cosmos unreachable: %s", type(exc).__name__)
            raise ServiceUnavailableError("The data store is unavailable, retry later.") from exc
        except CosmosHttpResponseError as exc:
            measured.outcome = _outcome(exc.status_code)
            if exc.status_code in _TRANSIENT:
                log.warning("cosmos answered %s", exc.status_code)
                raise ServiceUnavailableError("The data store is busy, retry later.") from exc
            raise


class CosmosStore:
    def __init__(self, client: CosmosClient, database: str, *, timeout: float | None = None) -> None:
        self._timeout = timeout
        self._client = client
        self._database: DatabaseProxy = client.get_database_client(database)
        self._database_name = database

    @classmethod
    def from_settings(cls, settings: HeraldSettings) -> CosmosStore:
        credential: Any
        if settings.cosmos_key:
            credential = settings.cosmos_key
        else:
            # Lazy import: azure-identity is only needed where managed identity is used.
            from azure.identity.aio import DefaultAzureCredential

            credential = DefaultAzureCredential()
        client = CosmosClient(
            settings.cosmos_endpoint,
            credential=credential,
            connection_verify=settings.cosmos_verify_tls,
            # Fail fast enough that the API can answer 503 (with Retry-After) while the caller still
            # waits, instead of hanging past the client's own timeout: bounds per request and overall.
            connection_timeout=3,
            read_timeout=5,
            timeout=settings.cosmos_timeout_seconds,
            retry_total=3,
            # No proxy or .netrc lookup from the environment: with it, every request ran two
            # lookups on a worker thread (CPU the delivery benchmark, bench/delivery, shows), and Herald
            # reaches Cosmos directly (private endpoint in Azure, loopback locally).
            transport=AioHttpTransport(use_env_settings=False),
        )
        return cls(client, settings.cosmos_database, timeout=settings.cosmos_timeout_seconds)

    async def close(self) -> None:
        await self._client.close()

    async def create_schema(self) -> None:
        """Creates the database and containers (locally; in Azure the Bicep does it)."""
        async with _translated(self._timeout, "database", "create_schema"):
            database = await self._client.create_database_if_not_exists(self._database_name)
            for spec in CONTAINERS:
                if len(spec.partition_key) > 1:
                    key = CosmosPartitionKey(path=spec.partition_key, kind="MultiHash")
                else:
                    key = CosmosPartitionKey(path=spec.partition_key[0], kind="Hash")
                await database.create_container_if_not_exists(
                    id=spec.name,
                    partition_key=key,
                    indexing_policy=spec.indexing_policy(),
                    default_ttl=spec.default_ttl,
                )

    def _container(self, name: str) -> ContainerProxy:
        return self._database.get_container_client(name)

    async def read(self, container: str, pk: PartitionKey, doc_id: str) -> Doc | None:
        if not doc_id or any(ch in doc_id for ch in _FORBIDDEN_ID_CHARACTERS) or len(doc_id) > 255:
            # No document can have such an id; asking Cosmos would only earn a 400.
            return None
        async with _translated(self._timeout, container, "read") as measured:
            try:
                item: Doc = await self._container(container).read_item(doc_id, _sdk_key(pk))
            except CosmosResourceNotFoundError:
                measured.outcome = "not_found"
                return None
        return item

    # The SDK takes and answers plain dicts; a record is one at run time, so the casts only name it.
    async def create[D: Mapping[str, Any]](self, container: str, doc: D) -> D:
        async with _translated(self._timeout, container, "create") as measured:
            try:
                created = await self._container(container).create_item(cast(Doc, doc))
            except CosmosResourceExistsError as exc:
                measured.outcome = "conflict"
                raise DocumentExistsError(doc["id"]) from exc
        return cast(D, created)

    async def upsert[D: Mapping[str, Any]](self, container: str, doc: D) -> D:
        async with _translated(self._timeout, container, "upsert"):
            result = await self._container(container).upsert_item(cast(Doc, doc))
        return cast(D, result)

    async def replace[D: Mapping[str, Any]](self, container: str, doc: D, *, etag: str) -> D:
        async with _translated(self._timeout, container, "replace") as measured:
            try:
                result = await self._container(container).replace_item(
                    doc["id"], cast(Doc, doc), etag=etag, match_condition=MatchConditions.IfNotModified
                )
            except CosmosAccessConditionFailedError as exc:
                measured.outcome = "precondition_failed"
                raise EtagMismatchError(doc["id"]) from exc
            except CosmosResourceNotFoundError as exc:
                # Deleted since it was read: that version is gone as surely as if it had changed.
                measured.outcome = "not_found"
                raise EtagMismatchError(doc["id"]) from exc
        return cast(D, result)

    async def delete(self, container: str, pk: PartitionKey, doc_id: str, *, etag: str | None = None) -> bool:
        options: dict[str, Any] = {}
        if etag is not None:
            options = {"etag": etag, "match_condition": MatchConditions.IfNotModified}
        async with _translated(self._timeout, container, "delete") as measured:
            try:
                await self._container(container).delete_item(doc_id, _sdk_key(pk), **options)
            except CosmosResourceNotFoundError:
                measured.outcome = "not_found"
                return False
            except CosmosAccessConditionFailedError as exc:
                measured.outcome = "precondition_failed"
                raise EtagMismatchError(doc_id) from exc
        return True

    async def patch(
        self, container: str, pk: PartitionKey, doc_id: str, operations: list[dict[str, Any]]
    ) -> Doc | None:
        async with _translated(self._timeout, container, "patch") as measured:
            try:
                result: Doc = await self._container(container).patch_item(
                    doc_id, _sdk_key(pk), patch_operations=operations
                )
            except CosmosResourceNotFoundError:
                measured.outcome = "not_found"
                return None
        return result

    async def query(
        self,
        container: str,
        pk: PartitionKey,
        *,
        where: str = "true",
        parameters: Sequence[tuple[str, Any]] = (),
        select: str = "*",
        order_by: str | None = None,
        top: int | None = None,
    ) -> list[Any]:
        # The partition key goes into the WHERE clause as well as the request: it keeps the query
        # inside one partition on any server (the local one filters by the clause alone).
        paths = _SPECS[container].partition_key
        key_clauses = [f"c.{path.lstrip('/')} = @pk{index}" for index, path in enumerate(paths)]
        params: list[dict[str, object]] = [
            {"name": f"@pk{index}", "value": value} for index, value in enumerate(pk)
        ]
        params += [{"name": name, "value": value} for name, value in parameters]
        sql = (
            f"SELECT {f'TOP {int(top)} ' if top else ''}{select} FROM c "  # noqa: S608 (fixed fragments)
            f"WHERE {' AND '.join(key_clauses)} AND ({where})"
            f"{f' ORDER BY {order_by}' if order_by else ''}"
        )
        items: list[Any] = []
        async with _translated(self._timeout, container, "query"):
            pager = self._container(container).query_items(sql, parameters=params, partition_key=_sdk_key(pk))
            async for item in pager:
                items.append(item)
        return items

    async def create_batch(self, container: str, pk: PartitionKey, docs: Sequence[Mapping[str, Any]]) -> None:
        operations = [("create", (doc,)) for doc in docs]
        async with _translated(self._timeout, container, "batch") as measured:
            try:
                await self._container(container).execute_item_batch(operations, _sdk_key(pk))
                return
            except CosmosBatchOperationError as exc:
                index = exc.error_index or 0
                answers = exc.operation_responses
                status = int(answers[index].get("statusCode", exc.status_code))
                measured.outcome = _outcome(status)
        # Azure applied nothing of a failed batch (the operations before the failure answer 424).
        # The local server applied those and answered 201: undo exactly those, each only while it
        # is the version this batch wrote, so that callers see all or nothing in both places.
        for doc, answer in zip(docs[:index], answers[:index], strict=False):
            if int(answer.get("statusCode", 424)) < 300:
                with contextlib.suppress(EtagMismatchError):
                    await self.delete(container, pk, doc["id"], etag=answer.get("eTag"))
        raise BatchFailedError(index, status)

    async def query_across(
        self,
        container: str,
        *,
        where: str,
        parameters: Sequence[tuple[str, Any]] = (),
        select: str = "*",
        order_by: str | None = None,
        top: int | None = None,
    ) -> list[Any]:
        params: list[dict[str, object]] = [{"name": name, "value": value} for name, value in parameters]
        sql = (
            f"SELECT {f'TOP {int(top)} ' if top else ''}{select} FROM c WHERE {where}"  # noqa: S608
            f"{f' ORDER BY {order_by}' if order_by else ''}"
        )
        items: list[Any] = []
        async with _translated(self._timeout, container, "query_across"):
            async for item in self._container(container).query_items(sql, parameters=params):
                items.append(item)
        return items

    async def ping(self) -> None:
        async with _translated(self._timeout, "database", "ping"):
            try:
                await self._database.read()
            except AzureError as exc:
                raise ServiceUnavailableError("The data store is unavailable.") from exc


_store: CosmosStore | None = None
_store_lock: asyncio.Lock | None = None


async def get_store(settings: HeraldSettings) -> CosmosStore:
    """The process's one store, created (and, locally, its schema) on first use."""
    global _store, _store_lock
    if _store is not None:
        return _store
    if _store_lock is None:
        _store_lock = asyncio.Lock()
    async with _store_lock:
        if _store is None:
            store = CosmosStore.from_settings(settings)
            if settings.cosmos_create_containers:
                await store.create_schema()
            _store = store
    return _store
