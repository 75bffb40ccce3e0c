"""Applications: one per customer of the tenant, addressed by id or by the tenant's own `uid`."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from shared import ids, quotas
from shared.clock import to_wire, utcnow
from shared.errors import ConflictError, NotFoundError, PreconditionFailedError
from shared.models import ApplicationIn, ApplicationOut, ApplicationPatch, path_identifier
from shared.pagination import ListParams, fetch_filtered_page, fetch_page
from shared.services.endpoints import ENDPOINT_TYPE
from shared.services.recent import Recent
from shared.services.uids import UidGuards
from shared.settings import HeraldSettings
from shared.store.base import (
    APPLICATIONS,
    ENDPOINTS,
    Doc,
    DocumentExistsError,
    DocumentStore,
    EtagMismatchError,
)

APP_TYPE = "app"
# Svix Play (Svix's public request inspector) receives at this host.
SVIX_PLAY_HOST = "play.svix.com"
# Applications whose endpoints one filtered list reads at once.
ENDPOINT_READS_AT_ONCE = 16
# Applications' uids are unique per tenant: one scope for the whole partition.
TENANT_SCOPE = ""


def to_out(doc: Doc) -> ApplicationOut:
    return ApplicationOut.model_validate(doc)


@dataclass(frozen=True)
class AppListFilters:
    """Svix's `application.list` options, each false by default."""

    # No endpoint at all.
    exclude_apps_with_no_endpoints: bool = False
    # At least one endpoint, every one of them disabled.
    exclude_apps_with_disabled_endpoints: bool = False
    # At least one endpoint, every one of them on Svix Play.
    exclude_apps_with_svix_play_endpoints: bool = False

    @property
    def any(self) -> bool:
        return (
            self.exclude_apps_with_no_endpoints
            or self.exclude_apps_with_disabled_endpoints
            or self.exclude_apps_with_svix_play_endpoints
        )

    def keeps(self, endpoints: list[Doc]) -> bool:
        """Whether an application with these endpoints (`disabled`, `url` of each) is listed."""
        if not endpoints:
            return not self.exclude_apps_with_no_endpoints
        if self.exclude_apps_with_disabled_endpoints and all(e.get("disabled") for e in endpoints):
            return False
        on_play = all(urlsplit(str(e.get("url", ""))).hostname == SVIX_PLAY_HOST for e in endpoints)
        return not (self.exclude_apps_with_svix_play_endpoints and on_play)


class ApplicationService:
    def __init__(self, store: DocumentStore, settings: HeraldSettings) -> None:
        self._store = store
        self._settings = settings
        self._uids = UidGuards(store, APPLICATIONS, what="An application")
        # Applications seen recently, for the message path only (updates always read afresh).
        self._recent: Recent[Doc] = Recent()

    async def find_recent(self, tenant_id: str, id_or_uid: str) -> Doc | None:
        """`find`, answered from this process's memory for a few seconds (see `recent.py`)."""
        return await self._recent.get((tenant_id, id_or_uid), lambda: self.find(tenant_id, id_or_uid))

    def _forget(self, tenant_id: str) -> None:
        self._recent.forget(tenant_id)

    async def find(self, tenant_id: str, id_or_uid: str) -> Doc | None:
        if id_or_uid.startswith(f"{ids.APP}_"):
            doc = await self._store.read(APPLICATIONS, [tenant_id], id_or_uid)
            if doc is not None and doc.get("type") == APP_TYPE:
                return doc
        return await self._uids.resolve([tenant_id], TENANT_SCOPE, id_or_uid)

    async def get(self, tenant_id: str, id_or_uid: str) -> Doc:
        doc = await self.find(tenant_id, id_or_uid)
        if doc is None:
            raise NotFoundError("Application not found.")
        return doc

    async def create(
        self, tenant_id: str, data: ApplicationIn, *, get_if_exists: bool = False, seed: str | None = None
    ) -> tuple[Doc, bool]:
        """Creates the application; returns it and whether it was created now."""
        quotas.check_metadata(data.metadata, self._settings, loc=["body", "metadata"])
        app_id = ids.new_id(ids.APP, seed)
        if seed is not None:
            # A retried request whose first try already stored the application.
            earlier = await self._store.read(APPLICATIONS, [tenant_id], app_id)
            if earlier is not None:
                return earlier, False
        if data.uid is not None:
            existing = await self._uids.resolve([tenant_id], TENANT_SCOPE, data.uid)
            if existing is not None:
                if get_if_exists:
                    return existing, False
                raise ConflictError("An application with this uid already exists.")
        now = to_wire(utcnow())
        doc: Doc = {
            "id": app_id,
            "type": APP_TYPE,
            "tenantId": tenant_id,
            "uid": data.uid,
            "name": data.name,
            "throttleRate": data.throttle_rate,
            "metadata": data.metadata or {},
            "createdAt": now,
            "updatedAt": now,
        }
        if data.uid is not None:
            try:
                await self._uids.claim([tenant_id], {"tenantId": tenant_id}, TENANT_SCOPE, data.uid, app_id)
            except ConflictError:
                if get_if_exists:
                    return await self.get(tenant_id, data.uid), False
                raise
        try:
            return await self._store.create(APPLICATIONS, doc), True
        except DocumentExistsError:
            return await self.get(tenant_id, app_id), False

    async def list_page(
        self, tenant_id: str, params: ListParams, filters: AppListFilters | None = None
    ) -> dict[str, Any]:
        """A page of the tenant's applications; `filters` read each one's endpoints (one query per
        application, in its own partition), reading on until the page is full."""
        where, parameters = "c.type = @type", [("@type", APP_TYPE)]
        if filters is None or not filters.any:
            page = await fetch_page(
                self._store, APPLICATIONS, [tenant_id], where=where, parameters=parameters, params=params
            )
            return page.to_wire([to_out(doc) for doc in page.items])
        chosen = filters
        gate = asyncio.Semaphore(ENDPOINT_READS_AT_ONCE)

        async def endpoints_of(app_id: str) -> list[Doc]:
            async with gate:
                return await self._store.query(
                    ENDPOINTS,
                    [tenant_id, app_id],
                    select="c.disabled, c.url",
                    where="c.type = @type",
                    parameters=[("@type", ENDPOINT_TYPE)],
                )

        async def keep(apps: list[Doc]) -> list[Doc]:
            found = await asyncio.gather(*(endpoints_of(app["id"]) for app in apps))
            return [app for app, endpoints in zip(apps, found, strict=True) if chosen.keeps(endpoints)]

        page = await fetch_filtered_page(
            self._store,
            APPLICATIONS,
            [tenant_id],
            where=where,
            parameters=parameters,
            params=params,
            keep=keep,
        )
        return page.to_wire([to_out(doc) for doc in page.items])

    async def update(self, tenant_id: str, id_or_uid: str, data: ApplicationIn) -> tuple[Doc, bool]:
        """PUT: replaces the application, or creates it when absent (Svix upsert)."""
        current = await self.find(tenant_id, id_or_uid)
        if current is None:
            if not id_or_uid.startswith(f"{ids.APP}_") and data.uid is None:
                uid = path_identifier(id_or_uid, loc=["path", "app_id"])
                data = data.model_copy(update={"uid": uid})
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
        for name, key in (("name", "name"), ("uid", "uid")):
            if name in fields:
                changes[key] = fields[name]
        if "throttle_rate" in fields:
            # 0 (which Svix's spec allows in a PATCH) means no limit, as null does.
            changes["throttleRate"] = fields["throttle_rate"] or None
        if "metadata" in fields:
            changes["metadata"] = fields["metadata"] or {}
        return await self._apply(tenant_id, current, changes)

    async def delete(self, tenant_id: str, id_or_uid: str) -> Doc:
        current = await self.get(tenant_id, id_or_uid)
        self._forget(tenant_id)
        try:
            await self._store.delete(APPLICATIONS, [tenant_id], current["id"], etag=current["_etag"])
        except EtagMismatchError:
            raise PreconditionFailedError("The application changed meanwhile; retry.") from None
        if current.get("uid"):
            await self._uids.release([tenant_id], TENANT_SCOPE, current["uid"], current["id"])
        # The endpoints go with their application, so nothing is delivered for it any more.
        pk = [tenant_id, current["id"]]
        for row in await self._store.query(ENDPOINTS, pk, select="c.id"):
            await self._store.delete(ENDPOINTS, pk, row["id"])
        return current

    async def _apply(self, tenant_id: str, current: Doc, changes: Mapping[str, Any]) -> Doc:
        if "metadata" in changes:
            quotas.check_metadata(changes["metadata"], self._settings, loc=["body", "metadata"])
        self._forget(tenant_id)
        updated = {**current, **changes, "updatedAt": to_wire(utcnow())}
        old_uid, new_uid = current.get("uid"), updated.get("uid")
        if new_uid is not None and new_uid != old_uid:
            await self._uids.claim([tenant_id], {"tenantId": tenant_id}, TENANT_SCOPE, new_uid, current["id"])
        try:
            stored = await self._store.replace(APPLICATIONS, updated, etag=current["_etag"])
        except EtagMismatchError:
            if new_uid is not None and new_uid != old_uid:
                await self._uids.release([tenant_id], TENANT_SCOPE, new_uid, current["id"])
            raise PreconditionFailedError("The application changed meanwhile; retry.") from None
        if old_uid is not None and old_uid != new_uid:
            await self._uids.release([tenant_id], TENANT_SCOPE, old_uid, current["id"])
        return stored
