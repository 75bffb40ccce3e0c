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
from shared.pagination import ListParams
from shared.store import queries
from shared.store.base import EVENT_TYPES, DocumentExistsError, DocumentStore, EtagMismatchError
from shared.store.schema import (
    EVENT_TYPE,
    EVENT_TYPE_TYPE,
    EventTypeDoc,
    EventTypeFields,
    etag,
    event_type_id,
    tenant_key,
)

# Writes in flight at once when many event types change together (an import).
WRITE_CONCURRENCY = 8


def to_out(doc: EventTypeDoc, *, with_content: bool = True) -> EventTypeOut:
    out = EventTypeOut.model_validate(doc)
    return out if with_content else out.model_copy(update={"schemas": None})


def _fields(data: EventTypeUpdate) -> EventTypeFields:
    return {
        "description": data.description,
        "archived": bool(data.archived),
        "deprecated": bool(data.deprecated),
        "schemas": data.schemas,
        "groupName": data.group_name,
        "featureFlags": feature_flags_of(data.feature_flags, data.feature_flag),
    }


def _imported(event_type: EventTypeFromOpenApi) -> EventTypeFields:
    # What the document says is the whole event type; importing it also unarchives it (Svix).
    return {
        "description": event_type.description,
        "archived": False,
        "deprecated": event_type.deprecated,
        "schemas": event_type.schemas,
        "groupName": event_type.group_name,
        "featureFlags": event_type.feature_flags,
    }


def _content(doc: EventTypeDoc) -> EventTypeFields:
    """The fields an import or a PUT sets (the rest, name and dates, belong to the document); one
    a document written before the field existed lacks reads as empty."""
    return {
        "description": doc.get("description") or "",
        "archived": bool(doc.get("archived")),
        "deprecated": bool(doc.get("deprecated")),
        "schemas": doc.get("schemas"),
        "groupName": doc.get("groupName"),
        "featureFlags": doc.get("featureFlags"),
    }


def _differs(current: EventTypeDoc | None, fields: EventTypeFields) -> bool:
    return current is None or any(current.get(name) != value for name, value in fields.items())


class EventTypeService:
    def __init__(self, store: DocumentStore) -> None:
        self._store = store

    async def get(self, tenant_id: str, name: str) -> EventTypeDoc:
        doc = await self._find(tenant_id, name)
        if doc is None:
            raise NotFoundError("Event type not found.")
        return doc

    async def _find(self, tenant_id: str, name: str) -> EventTypeDoc | None:
        return await queries.read(self._store, EVENT_TYPE, tenant_key(tenant_id), event_type_id(name))

    async def create(self, tenant_id: str, data: EventTypeIn) -> EventTypeDoc:
        return await self._create(tenant_id, data.name, _fields(data))

    async def _create(self, tenant_id: str, name: str, fields: EventTypeFields) -> EventTypeDoc:
        now = to_wire(utcnow())
        doc: EventTypeDoc = {
            "id": event_type_id(name),
            "type": EVENT_TYPE_TYPE,
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
        page = await queries.event_types_page(
            self._store, tenant_id, params, include_archived=include_archived
        )
        return page.to_wire([to_out(doc, with_content=with_content) for doc in page.items])

    async def update(self, tenant_id: str, name: str, data: EventTypeUpdate) -> tuple[EventTypeDoc, bool]:
        current = await self._find(tenant_id, name)
        if current is None:
            valid = path_identifier(name, loc=["path", "event_type_name"], event_type=True)
            return await self.create(tenant_id, EventTypeIn(name=valid, **data.model_dump())), True
        return await self._apply(current, _fields(data)), False

    async def patch(self, tenant_id: str, name: str, data: EventTypePatch) -> EventTypeDoc:
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
            await self._store.delete(EVENT_TYPES, tenant_key(tenant_id), current["id"])
        else:
            await self._apply(current, {**_content(current), "archived": True})

    async def list_all(self, tenant_id: str) -> list[EventTypeDoc]:
        """Every event type of the tenant, archived ones included, by name."""
        return await queries.event_types(self._store, tenant_id)

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
        writes |= {name: {**_content(current[name]), "archived": True} for name in retired}
        await self._write(tenant_id, current, writes)
        modified = [entry.name for entry in changed] + retired
        return EventTypeImportOpenApiOut(data=EventTypeImportOpenApiOutData(modified=modified))

    async def _write(
        self, tenant_id: str, current: dict[str, EventTypeDoc], writes: dict[str, EventTypeFields]
    ) -> None:
        """Each event type of `writes` with those fields: replaced where it exists, created where not.

        The writes are independent: each is tried, the first error is raised, and the same request
        again completes what it left (each write sets the whole content).
        """
        gate = asyncio.Semaphore(WRITE_CONCURRENCY)

        async def one(name: str, fields: EventTypeFields) -> None:
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

    async def _apply(self, current: EventTypeDoc, changes: EventTypeFields) -> EventTypeDoc:
        updated: EventTypeDoc = {**current, **changes, "updatedAt": to_wire(utcnow())}
        try:
            return await self._store.replace(EVENT_TYPES, updated, etag=etag(current))
        except EtagMismatchError:
            raise PreconditionFailedError("The event type changed meanwhile; retry.") from None
