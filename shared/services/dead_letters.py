"""Dead letters: inbound-queue messages Herald could not accept, kept with the reason.

Nothing a producer enqueued disappears silently: it becomes a message, or a dead letter its tenant
can list, or (for transient failures that outlast the host's retries) a poison-queue entry.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.clock import to_wire, utcnow
from shared.models import DeadLetterOut
from shared.pagination import ListParams
from shared.store import queries
from shared.store.base import DEAD_LETTERS, DocumentStore
from shared.store.schema import DeadLetterDoc, dead_letter_id

# Where a message lands whose tenant cannot be read from it.
UNATTRIBUTED_TENANT = "_unattributed"
MAX_BODY_CHARS = 64 * 1024


def to_out(doc: DeadLetterDoc) -> DeadLetterOut:
    return DeadLetterOut.model_validate(doc)


class DeadLetterService:
    def __init__(self, store: DocumentStore, *, retention_days: int) -> None:
        self._store = store
        self._ttl = retention_days * 24 * 3600

    async def record(
        self, tenant_id: str | None, reason: str, body: str, queue_message_id: str | None
    ) -> DeadLetterDoc:
        now = utcnow()
        doc: DeadLetterDoc = {
            # Keyed by the queue message id, so a redelivered message is recorded once.
            "id": dead_letter_id(queue_message_id),
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
        """The tenant's dead letters by arrival (newest first by default)."""
        page = await queries.dead_letters_page(self._store, tenant_id, params)
        return page.to_wire([to_out(doc) for doc in page.items])
