"""Idempotent POSTs: the same `idempotency-key` within 12 h gets the first answer again.

The first request claims the key by creating a record (a create is atomic, so exactly one of any
concurrent duplicates wins). The others wait for the winner's answer and replay it. The record
also reserves the id seed of the resource being created: when the first try fails half-way and
the SDK retries with the same key, the retry reuses the seed, finds what the first try wrote, and
finishes it instead of creating a duplicate.

An answer that carries a secret (a rotated signing key) is stored sealed, as endpoint secrets are
(AES-GCM under the KEK, bound to its record), never in plaintext.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from shared import ids
from shared.clock import from_wire, to_wire, utcnow
from shared.errors import ConflictError, HeraldError
from shared.secretbox import SecretBox
from shared.store import queries
from shared.store.base import IDEMPOTENCY, DocumentExistsError, DocumentStore, EtagMismatchError
from shared.store.schema import (
    IDEMPOTENCY_RECORD,
    IdempotencyRecordDoc,
    StoredAnswer,
    etag,
    idempotency_record_id,
    tenant_key,
)

# How long a claim protects an unfinished request before a retry may take it over.
LEASE_SECONDS = 30
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: object


Action = Callable[[str], Awaitable[StoredResponse]]


class IdempotencyService:
    def __init__(
        self, store: DocumentStore, secrets: SecretBox, *, ttl_seconds: int, wait_seconds: float
    ) -> None:
        self._store = store
        self._secrets = secrets
        self._ttl = ttl_seconds
        self._wait = wait_seconds

    async def run(
        self,
        tenant_id: str,
        scope: str,
        key: str,
        fingerprint: str,
        action: Action,
        *,
        sealed: bool = False,
    ) -> StoredResponse:
        """Runs `action(seed)` once per (tenant, scope, key); replays its answer afterwards.

        `sealed`: the answer carries a secret; its body is stored encrypted.
        """
        record = await self._claim(tenant_id, idempotency_record_id(scope, key), fingerprint)
        if isinstance(record, StoredResponse):
            return record
        try:
            response = await action(record["seed"])
        except HeraldError as exc:
            if exc.status >= 500:
                await self._release(record)
                raise
            # A client error is the request's answer, and replays like a success.
            await self._finish(record, StoredResponse(exc.status, exc.to_body()), sealed=sealed)
            raise
        except BaseException:
            await self._release(record)
            raise
        await self._finish(record, response, sealed=sealed)
        return response

    async def _claim(
        self, tenant_id: str, doc_id: str, fingerprint: str
    ) -> IdempotencyRecordDoc | StoredResponse:
        deadline = asyncio.get_running_loop().time() + self._wait
        while True:
            now = utcnow()
            fresh: IdempotencyRecordDoc = {
                "id": doc_id,
                "tenantId": tenant_id,
                "state": "pending",
                "seed": ids.new_seed(),
                "fingerprint": fingerprint,
                "leaseUntil": to_wire(now + timedelta(seconds=LEASE_SECONDS)),
                "expiresAt": to_wire(now + timedelta(seconds=self._ttl)),
                "ttl": self._ttl,
            }
            try:
                return await self._store.create(IDEMPOTENCY, fresh)
            except DocumentExistsError:
                pass
            existing = await queries.read(self._store, IDEMPOTENCY_RECORD, tenant_key(tenant_id), doc_id)
            if existing is None:
                continue
            if _expired(existing):
                taken = await self._take_over(existing, {**fresh, "seed": ids.new_seed()})
            elif existing["fingerprint"] != fingerprint:
                raise ConflictError(
                    "This idempotency key was already used for a different request.",
                    code="idempotency_conflict",
                )
            elif existing["state"] == "done":
                return await self._stored(existing)
            elif from_wire(existing["leaseUntil"]) <= now:
                # The first try died or failed: continue its work under its reserved seed.
                taken = await self._take_over(existing, {**fresh, "seed": existing["seed"]})
            else:
                taken = None
            if taken is not None:
                return taken
            if asyncio.get_running_loop().time() >= deadline:
                raise ConflictError(
                    "A request with this idempotency key is still in progress.",
                    code="idempotency_in_progress",
                )
            await asyncio.sleep(POLL_SECONDS)

    async def _take_over(
        self, existing: IdempotencyRecordDoc, replacement: IdempotencyRecordDoc
    ) -> IdempotencyRecordDoc | None:
        try:
            return await self._store.replace(IDEMPOTENCY, replacement, etag=etag(existing))
        except EtagMismatchError:
            return None

    async def _stored(self, record: IdempotencyRecordDoc) -> StoredResponse:
        answer = record["response"]
        if "sealedBody" in answer:
            body = await self._secrets.open(answer["sealedBody"], context=_context(record))
            return StoredResponse(answer["status"], json.loads(body))
        return StoredResponse(answer["status"], answer["body"])

    async def _finish(self, record: IdempotencyRecordDoc, response: StoredResponse, *, sealed: bool) -> None:
        answer: StoredAnswer = {"status": response.status}
        if sealed:
            plain = json.dumps(response.body, separators=(",", ":"))
            answer["sealedBody"] = await self._secrets.seal(plain, context=_context(record))
        else:
            answer["body"] = response.body
        done: IdempotencyRecordDoc = {**record, "state": "done", "response": answer}
        # If someone took the claim over after our lease ran out, their answer stands.
        with contextlib.suppress(EtagMismatchError):
            await self._store.replace(IDEMPOTENCY, done, etag=etag(record))

    async def _release(self, record: IdempotencyRecordDoc) -> None:
        released: IdempotencyRecordDoc = {**record, "leaseUntil": to_wire(utcnow())}
        # Best effort: the lease also runs out by itself.
        with contextlib.suppress(EtagMismatchError, HeraldError):
            await self._store.replace(IDEMPOTENCY, released, etag=etag(record))


def _context(record: IdempotencyRecordDoc) -> str:
    # Bound to its record: a sealed answer copied onto another key or tenant does not open.
    return f"idempotency/{record['tenantId']}/{record['id']}"


def _expired(doc: IdempotencyRecordDoc) -> bool:
    return from_wire(doc["expiresAt"]) <= utcnow()
