"""The inbound queue: other systems publish messages without HTTP.

A queue message is the body of `POST /api/v1/app/{appId}/msg` plus `tenantId`, `appId` and an
optional `idempotencyKey`. The tenant is trusted: only systems with access to the storage account
can enqueue. What can never succeed becomes a dead letter at once; what may succeed later (the
store is down) raises, so the host retries it and finally moves it to the poison queue.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from pydantic import ValidationError

from shared import jsonbody
from shared.errors import BadRequestError, HeraldError
from shared.models import InboundMessage
from shared.services.dead_letters import DeadLetterService
from shared.services.messages import MessageService
from shared.store.schema import MessageDoc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboundOutcome:
    accepted: bool
    msg_id: str | None = None
    reason: str | None = None
    # The stored message when this call created it (not on a replay): it still needs sending.
    message: MessageDoc | None = None


class InboundService:
    def __init__(self, messages: MessageService, dead_letters: DeadLetterService) -> None:
        self._messages = messages
        self._dead_letters = dead_letters

    async def accept(self, body: str, *, queue_message_id: str | None) -> InboundOutcome:
        try:
            raw = jsonbody.loads(body)
        except BadRequestError as exc:
            return await self._reject(None, exc.detail, body, queue_message_id)
        tenant_hint = raw.get("tenantId") if isinstance(raw, dict) else None
        tenant_hint = tenant_hint if isinstance(tenant_hint, str) and tenant_hint else None
        try:
            message = InboundMessage.model_validate(raw)
        except ValidationError as exc:
            return await self._reject(tenant_hint, _describe(exc), body, queue_message_id)
        # Without a key of its own, a redelivered queue message must not become a second message.
        key = message.idempotency_key or f"queue:{queue_message_id}"
        try:
            accepted = await self._messages.accept(
                message.tenant_id,
                message.app_id,
                message,
                idempotency_key=key,
                fingerprint=hashlib.sha256(body.encode()).hexdigest(),
            )
        except HeraldError as exc:
            if exc.status >= 500:
                raise
            return await self._reject(message.tenant_id, exc.detail, body, queue_message_id)
        return InboundOutcome(
            accepted=True,
            msg_id=accepted.message["id"],
            message=accepted.message if accepted.created else None,
        )

    async def _reject(
        self, tenant_id: str | None, reason: str, body: str, queue_message_id: str | None
    ) -> InboundOutcome:
        await self._dead_letters.record(tenant_id, reason, body, queue_message_id)
        log.warning("inbound message dead-lettered: %s", reason)
        return InboundOutcome(accepted=False, reason=reason)


def _describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}" for error in exc.errors()
    )
