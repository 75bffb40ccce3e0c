"""Caller-chosen `uid`s, unique within a scope (the tenant for applications, the app for endpoints).

A uid is held by a guard document whose id is derived from the scope and the uid, so two creates of
the same uid collide on the guard. Without multi-document transactions the guard and its target are
written one after the other, so a guard only counts while its target exists and still carries that
uid; a guard left behind by an interrupted write is taken over once it is older than a lease.
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import timedelta

from shared.clock import from_wire, to_wire, utcnow
from shared.errors import ConflictError
from shared.store.base import Doc, DocumentExistsError, DocumentStore, EtagMismatchError, PartitionKey

# A guard whose target does not exist yet is someone's create in flight for this long.
IN_FLIGHT_SECONDS = 30


class UidGuards:
    def __init__(self, store: DocumentStore, container: str, *, what: str) -> None:
        self._store = store
        self._container = container
        self._what = what

    @staticmethod
    def guard_id(scope: str, uid: str) -> str:
        # Hashed: uids may be 256 characters, Cosmos ids at most 255.
        return "uid~" + hashlib.sha256(f"{scope}\n{uid}".encode()).hexdigest()

    async def resolve(self, pk: PartitionKey, scope: str, uid: str) -> Doc | None:
        """The live document that holds `uid`, if any."""
        guard = await self._store.read(self._container, pk, self.guard_id(scope, uid))
        if guard is None:
            return None
        target = await self._store.read(self._container, pk, guard["targetId"])
        return target if target is not None and target.get("uid") == uid else None

    async def claim(self, pk: PartitionKey, base: Doc, scope: str, uid: str, target_id: str) -> None:
        """Reserves `uid` for `target_id`; 409 when a live document (or a create in flight) holds it."""
        guard: Doc = {
            **base,
            "id": self.guard_id(scope, uid),
            "type": "uid-guard",
            "uid": uid,
            "targetId": target_id,
            "createdAt": to_wire(utcnow()),
        }
        try:
            await self._store.create(self._container, guard)
            return
        except DocumentExistsError:
            pass
        existing = await self._store.read(self._container, pk, guard["id"])
        if existing is None:
            await self._retry_create(guard)
            return
        if existing["targetId"] == target_id:
            return
        target = await self._store.read(self._container, pk, existing["targetId"])
        in_flight = target is None and from_wire(existing["createdAt"]) > utcnow() - timedelta(
            seconds=IN_FLIGHT_SECONDS
        )
        if (target is not None and target.get("uid") == uid) or in_flight:
            raise ConflictError(f"{self._what} with this uid already exists.")
        try:
            await self._store.replace(self._container, guard, etag=existing["_etag"])
        except EtagMismatchError:
            raise ConflictError(f"{self._what} with this uid already exists.") from None

    async def release(self, pk: PartitionKey, scope: str, uid: str, target_id: str) -> None:
        """Frees `uid` if `target_id` still holds it (best effort: a stale guard is ignored anyway)."""
        guard = await self._store.read(self._container, pk, self.guard_id(scope, uid))
        if guard is not None and guard["targetId"] == target_id:
            with contextlib.suppress(EtagMismatchError):
                await self._store.delete(self._container, pk, guard["id"], etag=guard["_etag"])

    async def _retry_create(self, guard: Doc) -> None:
        try:
            await self._store.create(self._container, guard)
        except DocumentExistsError:
            raise ConflictError(f"{self._what} with this uid already exists.") from None
