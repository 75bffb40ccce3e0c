"""Event types: the tenant's catalogue of what its messages mean. Deleting archives, as in Svix."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from shared import openapi_import
from shared.clock import to_wire, utcnow
from shared.errors import ConflictError, NotFoundError, PreconditionFailedError
from shared.models import (
    EventTypeFromOpenApi,
    EventTypeImportOpenApiIn,
    EventTypeImportOpenApiOut,
    EventTypeImportOpenApiOutData,
    EventTypeIn,
    EventTypeOut,
    EventTypePatch,
    EventTypeUpdate,
    feature_flags_of,
    path_identifier,
)
from shared.pagination import ListParams, fetch_page
from shared.store.base import EVENT_TYPES, Doc, DocumentExistsError, DocumentStore, EtagMismatchError

EVENT_TYPE = "event-type"
# Writes in flight at once when many event types change together (an import).
WRITE_CONCURRENCY = 8
# The fields an import or a PUT sets; the rest (name, dates) belong to the document.
_CONTENT = ("description", "archived", "deprecated", "schemas", "groupName", "featureFlags")


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
        "featureFlags": feature_flags_of(data.feature_flags, data.feature_flag),
    }


def _imported(event_type: EventTypeFromOpenApi) -> dict[str, Any]:
    # What the document says is the whole event type; importing it also unarchives it (Svix).
    return {
        "description": event_type.description,
        "archived": False,
        "deprecated": event_type.deprecated,
        "schemas": event_type.schemas,
        "groupName": event_type.group_name,
        "featureFlags": event_type.feature_flags,
    }


def _differs(current: Doc | None, fields: dict[str, Any]) -> bool:
    return current is None or any(current.get(name) != fields[name] for name in _CONTENT)


class EventTypeService:
    def __init__(self, store: DocumentStore) -> None:
        self._store = store

    async def get(self, tenant_id: str, name: str) -> Doc:
        doc = await self._store.read(EVENT_TYPES, [tenant_id], name)
        if doc is None:
            raise NotFoundError("Event type not found.")
        return doc

    async def create(self, tenant_id: str, data: EventTypeIn) -> Doc:
        return await self._create(tenant_id, data.name, _fields(data))

    async def _create(self, tenant_id: str, name: str, fields: dict[str, Any]) -> Doc:
        now = to_wire(utcnow())
        doc: Doc = {
            "id": name,
            "type": EVENT_TYPE,
            "tenantId": tenant_id,
            "name": name,
            **fields,
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
        if "feature_flag" in fields or "feature_flags" in fields:
            # Either spelling replaces the flags; null in either clears them (svix 1.x: `featureFlag: null`).
            fields["feature_flags"] = feature_flags_of(
                fields.get("feature_flags"), fields.pop("feature_flag", None)
            )
        kept = to_out(current).model_dump(exclude={"feature_flag"})
        merged = EventTypeUpdate.model_validate({**kept, **fields})
        return await self._apply(current, _fields(merged))

    async def delete(self, tenant_id: str, name: str, *, expunge: bool) -> None:
        current = await self.get(tenant_id, name)
        if expunge:
            await self._store.delete(EVENT_TYPES, [tenant_id], name)
        else:
            await self._apply(current, {"archived": True})

    async def list_all(self, tenant_id: str) -> list[Doc]:
        """Every event type of the tenant, archived ones included, by name."""
        return await self._store.query(
            EVENT_TYPES,
            [tenant_id],
            where="c.type = @type",
            parameters=[("@type", EVENT_TYPE)],
            order_by="c.id ASC",
        )

    async def put_many(self, tenant_id: str, entries: Sequence[EventTypeIn]) -> None:
        """Creates or updates each event type as a PUT would (an environment import)."""
        current = {doc["id"]: doc for doc in await self.list_all(tenant_id)}
        await self._write(tenant_id, current, {entry.name: _fields(entry) for entry in entries})

    async def import_openapi(
        self, tenant_id: str, data: EventTypeImportOpenApiIn
    ) -> EventTypeImportOpenApiOut:
        """Creates or updates the event types of an OpenAPI document's webhooks.

        Only event types that change are written (and listed). `replaceAll` archives the tenant's
        other event types; `dryRun` writes nothing and answers what would be created or updated.

        :raises BadRequestError: neither or both of `spec` and `specRaw`.
        :raises ValidationFailedError: the document breaks a rule (see `shared.openapi_import`).
        """
        wanted = openapi_import.parse(data.spec, data.spec_raw)
        current = {doc["id"]: doc for doc in await self.list_all(tenant_id)}
        changed = [entry for entry in wanted if _differs(current.get(entry.name), _imported(entry))]
        if data.dry_run:
            return EventTypeImportOpenApiOut(
                data=EventTypeImportOpenApiOutData(modified=[], to_modify=changed)
            )
        names = {entry.name for entry in wanted}
        retired = (
            [name for name, doc in current.items() if name not in names and not doc.get("archived")]
            if data.replace_all
            else []
        )
        writes = {entry.name: _imported(entry) for entry in changed}
        writes |= {
            name: {**{k: current[name].get(k) for k in _CONTENT}, "archived": True} for name in retired
        }
        await self._write(tenant_id, current, writes)
        modified = [entry.name for entry in changed] + retired
        return EventTypeImportOpenApiOut(data=EventTypeImportOpenApiOutData(modified=modified))

    async def _write(
        self, tenant_id: str, current: dict[str, Doc], writes: dict[str, dict[str, Any]]
    ) -> None:
        """Each event type of `writes` with those fields: replaced where it exists, created where not.

        The writes are independent: each is tried, the first error is raised, and the same request
        again completes what it left (each write sets the whole content).
        """
        gate = asyncio.Semaphore(WRITE_CONCURRENCY)

        async def one(name: str, fields: dict[str, Any]) -> None:
            async with gate:
                doc = current.get(name)
                if doc is not None:
                    await self._apply(doc, fields)
                else:
                    await self._create(tenant_id, name, fields)

        results = await asyncio.gather(
            *(one(name, fields) for name, fields in writes.items()), return_exceptions=True
        )
        failed = next((result for result in results if isinstance(result, BaseException)), None)
        if failed is not None:
            raise failed

    async def _apply(self, current: Doc, changes: dict[str, Any]) -> Doc:
        updated = {**current, **changes, "updatedAt": to_wire(utcnow())}
        try:
            return await self._store.replace(EVENT_TYPES, updated, etag=current["_etag"])
        except EtagMismatchError:
            raise PreconditionFailedError("The event type changed meanwhile; retry.") from None
