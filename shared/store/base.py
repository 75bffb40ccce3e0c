"""The document-store interface services depend on; `cosmos.py` is the one backend.

Documents are JSON dicts with an `id`; a partition key is a list of the values of the container's
key paths (`[tenantId]` or `[tenantId, appId]`). Writes that must not lose a race carry an ETag.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Doc = dict[str, Any]
PartitionKey = list[str]

APPLICATIONS = "applications"
ENDPOINTS = "endpoints"
EVENT_TYPES = "event-types"
MESSAGES = "messages"
IDEMPOTENCY = "idempotency"
DEAD_LETTERS = "dead-letters"


@dataclass(frozen=True)
class BatchOp:
    """One operation of a transactional batch inside one partition."""

    kind: Literal["create", "upsert", "replace", "delete"]
    doc: Doc | None = None
    id: str | None = None
    etag: str | None = None


class BatchFailedError(Exception):
    """A transactional batch was rolled back because operation `index` failed with `status`."""

    def __init__(self, index: int, status: int) -> None:
        super().__init__(f"batch operation {index} failed with status {status}")
        self.index = index
        self.status = status


class DocumentExistsError(Exception):
    """A create collided with an existing document of the same id in the partition."""


class EtagMismatchError(Exception):
    """A conditional write lost: the document changed since it was read."""


class DocumentStore(Protocol):
    async def read(self, container: str, pk: PartitionKey, doc_id: str) -> Doc | None: ...

    async def create(self, container: str, doc: Doc) -> Doc: ...

    async def upsert(self, container: str, doc: Doc) -> Doc: ...

    async def replace(self, container: str, doc: Doc, *, etag: str) -> Doc: ...

    async def delete(
        self, container: str, pk: PartitionKey, doc_id: str, *, etag: str | None = None
    ) -> bool: ...

    async def patch(
        self, container: str, pk: PartitionKey, doc_id: str, operations: list[dict[str, Any]]
    ) -> Doc | None: ...

    async def query(
        self,
        container: str,
        pk: PartitionKey,
        sql: str,
        parameters: Sequence[tuple[str, Any]] = (),
        *,
        max_items: int | None = None,
    ) -> list[Any]:
        """Rows of the query: documents, or values for `SELECT VALUE`."""

    async def batch(self, container: str, pk: PartitionKey, ops: Sequence[BatchOp]) -> None: ...

    async def ping(self) -> None: ...
