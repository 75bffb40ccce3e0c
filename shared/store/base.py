"""The document-store interface services depend on; `cosmos.py` is the one backend.

Documents are JSON dicts with an `id`; a partition key is a list of the values of the container's
key paths (`[tenantId]` or `[tenantId, appId]`). Writes that must not lose a race carry an ETag.

Multi-document writes are batches of creates (Cosmos transactional batches: all or nothing; the
local server runs creates only, and not atomically, so the store undoes what it applied of a
failed batch). Other sequences of
writes are ordered so that an interruption at any point leaves nothing a reader can mistake for a
finished write, and a retry completes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

# A document as the SDK reads it; `schema.py` has the record type of each kind.
Doc = dict[str, Any]
PartitionKey = list[str]

APPLICATIONS = "applications"
ENDPOINTS = "endpoints"
EVENT_TYPES = "event-types"
MESSAGES = "messages"
IDEMPOTENCY = "idempotency"
DEAD_LETTERS = "dead-letters"
# Logouts and expire-alls of app portal tokens (`shared/portal_tokens.py`).
PORTAL_REVOCATIONS = "portal-revocations"


class BatchFailedError(Exception):
    """A batch of creates failed at operation `index`, with `status`; nothing of it was written.

    In Azure the batch is a transaction. The local server applies the operations before `index`,
    and the store deletes those again before raising this.
    """

    def __init__(self, index: int, status: int) -> None:
        super().__init__(f"batch operation {index} failed with status {status}")
        self.index = index
        self.status = status


class DocumentExistsError(Exception):
    """A create collided with an existing document of the same id in the partition."""


class EtagMismatchError(Exception):
    """A conditional write lost: the document changed since it was read."""


class DocumentStore(Protocol):
    """Point operations, queries and batches; `queries.py` is what services call to find documents.

    A write answers the document as stored (with its `_etag`), typed as the record it was given.
    """

    async def read(self, container: str, pk: PartitionKey, doc_id: str) -> Doc | None:
        """The document, or None when there is none."""

    async def create[D: Mapping[str, Any]](self, container: str, doc: D) -> D:
        """:raises DocumentExistsError: the partition holds a document with this id."""

    async def upsert[D: Mapping[str, Any]](self, container: str, doc: D) -> D: ...

    async def replace[D: Mapping[str, Any]](self, container: str, doc: D, *, etag: str) -> D:
        """:raises EtagMismatchError: the document changed (or went) since it was read at `etag`."""

    async def delete(self, container: str, pk: PartitionKey, doc_id: str, *, etag: str | None = None) -> bool:
        """False when there was nothing to delete.

        :raises EtagMismatchError: (with `etag`) the document changed since.
        """

    async def patch(
        self, container: str, pk: PartitionKey, doc_id: str, operations: list[dict[str, Any]]
    ) -> Doc | None:
        """The document after the operations, or None when there is none."""

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
        """Rows of `SELECT [TOP n] <select> FROM c WHERE <where> [ORDER BY ...]` inside one partition.

        `where`, `select` and `order_by` are fixed SQL fragments on alias `c`; values travel only
        as `parameters`. The store adds the partition-key equality itself.
        """

    async def create_batch(self, container: str, pk: PartitionKey, docs: Sequence[Mapping[str, Any]]) -> None:
        """Creates `docs` (one partition, at most 100) in one request, as one transaction.

        :raises BatchFailedError: one of them could not be created; none was.
        """

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
        """A query over every partition: only for background sweeps, never for API reads."""

    async def ping(self) -> None: ...
