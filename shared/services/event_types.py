"""Event types: the tenant's catalogue of what its messages mean. Deleting archives, as in Svix."""

from __future__ import annotations

from typing import Any

from shared.clock import to_wire, utcnow
from shared.errors import ConflictError, NotFoundError, PreconditionFailedError
from shared.models import EventTypeIn, EventTypeOut, EventTypePatch, EventTypeUpdate, path_identifier
from shared.pagination import ListParams, fetch_page
from shared.store.base import EVENT_TYPES, Doc, DocumentExistsError, DocumentStore, EtagMismatchError

EVENT_TYPE = "event-type"


def to_out(doc: Doc, *, with_content: bool = True) -> EventTypeOut:
    out = EventTypeOut.model_validate(doc)
    return out if with_content else out.model_copy(update={"schemas": None})


def _fields(data: EventTypeUpdate) -> dict[str, Any]:
    return {
        "description": data.description,
        "archived": bool(data.archived),
        "deprecated": bool(data.deprecated),
        "schemas": data.schemas,
        "groupName": data.group_name,
        "featureFlags": data.feature_flags,
    }


class EventTypeService:
    def __init__(self, store: DocumentStore) -> None:
        self._store = store

    async def get(self, tenant_id: str, name: str) -> Doc:
        doc = await self._store.read(EVENT_TYPES, [tenant_id], name)
        if doc is None:
            raise NotFoundError("Event type not found.")
        return doc

    async def create(self, tenant_id: str, data: EventTypeIn) -> Doc:
        now = to_wire(utcnow())
        doc: Doc = {
            "id": data.name,
            "type": EVENT_TYPE,
            "tenantId": tenant_id,
            "name": data.name,
            **_fields(data),
            "createdAt": now,
            "updatedAt": now,
        }
        try:
            return await self._store.create(EVENT_TYPES, doc)
        except DocumentExistsError:
            raise ConflictError("An event type with this name already exists.") from None

    async def list_page(
        self, tenant_id: str, params: ListParams, *, include_archived: bool, with_content: bool
    ) -> dict[str, Any]:
        where = "c.type = @type" + ("" if include_archived else " AND NOT c.archived")
        page = await fetch_page(
            self._store,
            EVENT_TYPES,
            [tenant_id],
            where=where,
            parameters=[("@type", EVENT_TYPE)],
            params=params,
        )
        return page.to_wire([to_out(doc, with_content=with_content) for doc in page.items])

    async def update(self, tenant_id: str, name: str, data: EventTypeUpdate) -> tuple[Doc, bool]:
        current = await self._store.read(EVENT_TYPES, [tenant_id], name)
        if current is None:
            valid = path_identifier(name, loc=["path", "event_type_name"], event_type=True)
            return await self.create(tenant_id, EventTypeIn(name=valid, **data.model_dump())), True
        return await self._apply(current, _fields(data)), False

    async def patch(self, tenant_id: str, name: str, data: EventTypePatch) -> Doc:
        current = await self.get(tenant_id, name)
        fields = data.model_dump(exclude_unset=True)
        merged = EventTypeUpdate.model_validate({**to_out(current).model_dump(), **fields})
        return await self._apply(current, _fields(merged))

    async def delete(self, tenant_id: str, name: str, *, expunge: bool) -> None:
        current = await self.get(tenant_id, name)
        if expunge:
            await self._store.delete(EVENT_TYPES, [tenant_id], name)
        else:
            await self._apply(current, {"archived": True})

    async def _apply(self, current: Doc, changes: dict[str, Any]) -> Doc:
        updated = {**current, **changes, "updatedAt": to_wire(utcnow())}
        try:
            return await self._store.replace(EVENT_TYPES, updated, etag=current["_etag"])
        except EtagMismatchError:
            raise PreconditionFailedError("The event type changed meanwhile; retry.") from None
