"""Caller-chosen `uid`s, unique within a scope (the tenant for applications, the app for endpoints).

A uid is held by a guard document whose id is derived from the scope and the uid, so two creates of
the same uid collide on the guard. Without multi-document transactions the guard and its target are
written one after the other, so a guard only counts while its target exists and still carries that
uid; a guard left behind by an interrupted write is taken over once it is older than a lease.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from shared.clock import from_wire, to_wire, utcnow
from shared.errors import ConflictError
from shared.store import queries
from shared.store.base import DocumentExistsError, DocumentStore, EtagMismatchError, PartitionKey
from shared.store.schema import UID_GUARD_TYPE, Kind, UidGuardDoc, etag, uid_guard_id, uid_guard_kind

# A guard whose target does not exist yet is someone's create in flight for this long.
IN_FLIGHT_SECONDS = 30


class UidGuards[T: Mapping[str, Any]]:
    """The uids of the documents of `target` (applications, or endpoints of one kind)."""

    def __init__(self, store: DocumentStore, target: Kind[T], *, what: str) -> None:
        self._store = store
        self._target = target
        self._container = target.container
        self._guards = uid_guard_kind(target.container)
        self._what = what

    async def resolve(self, pk: PartitionKey, scope: str, uid: str) -> T | None:
        """The live document that holds `uid`, if any."""
        guard = await queries.read(self._store, self._guards, pk, uid_guard_id(scope, uid))
        if guard is None:
            return None
        target = await queries.read(self._store, self._target, pk, guard["targetId"])
        return target if target is not None and target.get("uid") == uid else None

    async def claim(self, pk: PartitionKey, scope: str, uid: str, target_id: str) -> None:
        """Reserves `uid` for `target_id`; 409 when a live document (or a create in flight) holds it."""
        guard: UidGuardDoc = {
            "id": uid_guard_id(scope, uid),
            "type": UID_GUARD_TYPE,
            "tenantId": pk[0],
            "uid": uid,
            "targetId": target_id,
            "createdAt": to_wire(utcnow()),
        }
        if len(pk) > 1:
            # An endpoint's guard lives in its application's partition.
            guard["appId"] = pk[1]
        try:
            await self._store.create(self._container, guard)
            return
        except DocumentExistsError:
            pass
        existing = await queries.read(self._store, self._guards, pk, guard["id"])
        if existing is None:
            await self._retry_create(guard)
            return
        if existing["targetId"] == target_id:
            return
        target = await queries.read(self._store, self._target, pk, existing["targetId"])
        in_flight = target is None and from_wire(existing["createdAt"]) > utcnow() - timedelta(
            seconds=IN_FLIGHT_SECONDS
        )
        if (target is not None and target.get("uid") == uid) or in_flight:
            raise ConflictError(f"{self._what} with this uid already exists.")
        try:
            await self._store.replace(self._container, guard, etag=etag(existing))
        except EtagMismatchError:
            raise ConflictError(f"{self._what} with this uid already exists.") from None

    async def release(self, pk: PartitionKey, scope: str, uid: str, target_id: str) -> None:
        """Frees `uid` if `target_id` still holds it (best effort: a stale guard is ignored anyway)."""
        guard = await queries.read(self._store, self._guards, pk, uid_guard_id(scope, uid))
        if guard is not None and guard["targetId"] == target_id:
            with contextlib.suppress(EtagMismatchError):
                await self._store.delete(self._container, pk, guard["id"], etag=etag(guard))

    async def move[R](
        self,
        pk: PartitionKey,
        scope: str,
        target_id: str,
        old_uid: str | None,
        new_uid: str | None,
        write: Callable[[], Awaitable[R]],
    ) -> R:
        """Runs `write`, the guarded update that takes `target_id` from `old_uid` to `new_uid`.

        The new uid is claimed before the write (409 when it is taken) and freed again when the
        write loses its race (`EtagMismatchError`, raised on); the old one is freed after it.
        """
        claimed = new_uid if new_uid != old_uid else None
        if claimed is not None:
            await self.claim(pk, scope, claimed, target_id)
        try:
            written = await write()
        except EtagMismatchError:
            if claimed is not None:
                await self.release(pk, scope, claimed, target_id)
            raise
        if old_uid is not None and old_uid != new_uid:
            await self.release(pk, scope, old_uid, target_id)
        return written

    async def _retry_create(self, guard: UidGuardDoc) -> None:
        try:
            await self._store.create(self._container, guard)
        except DocumentExistsError:
            raise ConflictError(f"{self._what} with this uid already exists.") from None
