"""Applications: one per customer of the tenant, addressed by id or by the tenant's own `uid`.

A `uid` is unique per tenant. Uniqueness is held by a guard document (`uid~<uid>`) written in the
same transactional batch as the application, so two concurrent creates cannot both win.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared import ids
from shared.clock import to_wire, utcnow
from shared.errors import ConflictError, NotFoundError, PreconditionFailedError
from shared.models import ApplicationIn, ApplicationOut, ApplicationPatch
from shared.pagination import ListParams, fetch_page
from shared.store.base import (
    APPLICATIONS,
    ENDPOINTS,
    BatchFailedError,
    BatchOp,
    Doc,
    DocumentStore,
    EtagMismatchError,
)

APP_TYPE = "app"
UID_TYPE = "app-uid"


def _uid_guard_id(uid: str) -> str:
    return f"uid~{uid}"


def to_out(doc: Doc) -> ApplicationOut:
    return ApplicationOut.model_validate(doc)


class ApplicationService:
    def __init__(self, store: DocumentStore) -> None:
        self._store = store

    async def find(self, tenant_id: str, id_or_uid: str) -> Doc | None:
        doc = await self._store.read(APPLICATIONS, [tenant_id], id_or_uid)
        if doc is not None and doc.get("type") == APP_TYPE:
            return doc
        guard = await self._store.read(APPLICATIONS, [tenant_id], _uid_guard_id(id_or_uid))
        if guard is None:
            return None
        return await self._store.read(APPLICATIONS, [tenant_id], guard["appId"])

    async def get(self, tenant_id: str, id_or_uid: str) -> Doc:
        doc = await self.find(tenant_id, id_or_uid)
        if doc is None:
            raise NotFoundError("Application not found.")
        return doc

    async def create(
        self, tenant_id: str, data: ApplicationIn, *, get_if_exists: bool = False, seed: str | None = None
    ) -> tuple[Doc, bool]:
        """Creates the application; returns it and whether it was created now."""
        if data.uid is not None:
            existing = await self.find(tenant_id, data.uid)
            if existing is not None:
                if get_if_exists:
                    return existing, False
                raise ConflictError("An application with this uid already exists.")
        now = to_wire(utcnow())
        doc: Doc = {
            "id": ids.new_id(ids.APP, seed),
            "type": APP_TYPE,
            "tenantId": tenant_id,
            "uid": data.uid,
            "name": data.name,
            "throttleRate": data.throttle_rate,
            "metadata": data.metadata or {},
            "createdAt": now,
            "updatedAt": now,
        }
        ops = [BatchOp("create", doc)]
        if data.uid is not None:
            ops.append(BatchOp("create", self._uid_guard(tenant_id, data.uid, doc["id"])))
        try:
            await self._store.batch(APPLICATIONS, [tenant_id], ops)
        except BatchFailedError as exc:
            if exc.status != 409:
                raise
            if exc.index == 0:
                # Same reserved id: a retried request whose first try already wrote it.
                return await self.get(tenant_id, doc["id"]), False
            if get_if_exists and data.uid is not None:
                return await self.get(tenant_id, data.uid), False
            raise ConflictError("An application with this uid already exists.") from exc
        return doc, True

    async def list_page(self, tenant_id: str, params: ListParams) -> dict[str, Any]:
        page = await fetch_page(
            self._store,
            APPLICATIONS,
            [tenant_id],
            where="c.type = @type",
            parameters=[("@type", APP_TYPE)],
            params=params,
        )
        return page.to_wire([to_out(doc) for doc in page.items])

    async def update(self, tenant_id: str, id_or_uid: str, data: ApplicationIn) -> tuple[Doc, bool]:
        """PUT: replaces the application, or creates it when absent (Svix upsert)."""
        current = await self.find(tenant_id, id_or_uid)
        if current is None:
            if not id_or_uid.startswith(f"{ids.APP}_") and data.uid is None:
                data = data.model_copy(update={"uid": id_or_uid})
            return await self.create(tenant_id, data)
        changes = {
            "name": data.name,
            "uid": data.uid,
            "throttleRate": data.throttle_rate,
            "metadata": data.metadata or {},
        }
        return await self._apply(tenant_id, current, changes), False

    async def patch(self, tenant_id: str, id_or_uid: str, data: ApplicationPatch) -> Doc:
        current = await self.get(tenant_id, id_or_uid)
        fields = data.model_dump(exclude_unset=True)
        changes: dict[str, Any] = {}
        for name, key in (("name", "name"), ("uid", "uid"), ("throttle_rate", "throttleRate")):
            if name in fields:
                changes[key] = fields[name]
        if "metadata" in fields:
            changes["metadata"] = fields["metadata"] or {}
        return await self._apply(tenant_id, current, changes)

    async def delete(self, tenant_id: str, id_or_uid: str) -> Doc:
        current = await self.get(tenant_id, id_or_uid)
        ops = [BatchOp("delete", id=current["id"], etag=current["_etag"])]
        if current.get("uid"):
            ops.append(BatchOp("delete", id=_uid_guard_id(current["uid"])))
        try:
            await self._store.batch(APPLICATIONS, [tenant_id], ops)
        except BatchFailedError as exc:
            raise PreconditionFailedError("The application changed meanwhile; retry.") from exc
        # The endpoints go with their application, so nothing is delivered for it any more.
        endpoint_ids = await self._store.query(
            ENDPOINTS,
            [tenant_id, current["id"]],
            "SELECT c.id FROM c",
        )
        for row in endpoint_ids:
            await self._store.delete(ENDPOINTS, [tenant_id, current["id"]], row["id"])
        return current

    async def _apply(self, tenant_id: str, current: Doc, changes: Mapping[str, Any]) -> Doc:
        updated = {**current, **changes, "updatedAt": to_wire(utcnow())}
        ops = [BatchOp("replace", updated, etag=current["_etag"])]
        old_uid, new_uid = current.get("uid"), updated.get("uid")
        if old_uid != new_uid:
            if new_uid is not None:
                ops.append(BatchOp("create", self._uid_guard(tenant_id, new_uid, current["id"])))
            if old_uid is not None:
                ops.append(BatchOp("delete", id=_uid_guard_id(old_uid)))
        try:
            await self._store.batch(APPLICATIONS, [tenant_id], ops)
        except BatchFailedError as exc:
            if exc.index == 0:
                raise PreconditionFailedError("The application changed meanwhile; retry.") from exc
            raise ConflictError("An application with this uid already exists.") from exc
        except EtagMismatchError as exc:
            raise PreconditionFailedError("The application changed meanwhile; retry.") from exc
        return updated

    @staticmethod
    def _uid_guard(tenant_id: str, uid: str, app_id: str) -> Doc:
        return {"id": _uid_guard_id(uid), "type": UID_TYPE, "tenantId": tenant_id, "appId": app_id}
