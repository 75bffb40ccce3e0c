"""Dead letters: inbound-queue messages Herald could not accept, kept with the reason.

Nothing a producer enqueued disappears silently: it becomes a message, or a dead letter its tenant
can list, or (for transient failures that outlast the host's retries) a poison-queue entry.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared import ids
from shared.clock import to_wire, utcnow
from shared.models import DeadLetterOut
from shared.pagination import ListParams, fetch_page
from shared.store.base import DEAD_LETTERS, Doc, DocumentStore

# Where a message lands whose tenant cannot be read from it.
UNATTRIBUTED_TENANT = "_unattributed"
MAX_BODY_CHARS = 64 * 1024


def to_out(doc: Doc) -> DeadLetterOut:
    return DeadLetterOut.model_validate(doc)


class DeadLetterService:
    def __init__(self, store: DocumentStore, *, retention_days: int) -> None:
        self._store = store
        self._ttl = retention_days * 24 * 3600

    async def record(
        self, tenant_id: str | None, reason: str, body: str, queue_message_id: str | None
    ) -> Doc:
        now = utcnow()
        # Keyed by the queue message id, so a redelivered message is recorded once.
        doc_id = f"{ids.DEAD_LETTER}_{queue_message_id}" if queue_message_id else ids.new_id(ids.DEAD_LETTER)
        doc: Doc = {
            "id": doc_id,
            "tenantId": tenant_id or UNATTRIBUTED_TENANT,
            "reason": reason,
            "queueMessageId": queue_message_id,
            "body": body[:MAX_BODY_CHARS],
            "receivedAt": to_wire(now),
            "expiresAt": to_wire(now + timedelta(seconds=self._ttl)),
            "ttl": self._ttl,
        }
        return await self._store.upsert(DEAD_LETTERS, doc)

    async def list_page(self, tenant_id: str, params: ListParams) -> dict[str, Any]:
        page = await fetch_page(
            self._store,
            DEAD_LETTERS,
            [tenant_id],
            where="true",
            parameters=[],
            params=params,
            key="receivedAt",
        )
        return page.to_wire([to_out(doc) for doc in page.items])
