"""Applications: one per customer of the tenant, addressed by id or by the tenant's own `uid`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from shared import quotas
from shared.clock import to_wire, utcnow
from shared.errors import ConflictError, NotFoundError, PreconditionFailedError
from shared.models import ApplicationIn, ApplicationOut, ApplicationPatch, path_identifier
from shared.pagination import ListParams
from shared.services.recent import Recent
from shared.services.uids import UidGuards
from shared.settings import HeraldSettings
from shared.store import queries
from shared.store.base import APPLICATIONS, ENDPOINTS, DocumentExistsError, DocumentStore, EtagMismatchError
from shared.store.schema import (
    APPLICATION,
    APPLICATION_TYPE,
    ApplicationChanges,
    ApplicationDoc,
    EndpointSummary,
    app_key,
    etag,
    is_application_id,
    new_application_id,
    tenant_key,
)

# Svix Play (Svix's public request inspector) receives at this host.
SVIX_PLAY_HOST = "play.svix.com"
# Applications whose endpoints one filtered list reads at once.
ENDPOINT_READS_AT_ONCE = 16
# Applications' uids are unique per tenant: one scope for the whole partition.
TENANT_SCOPE = ""


def to_out(doc: ApplicationDoc) -> ApplicationOut:
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

    def keeps(self, endpoints: list[EndpointSummary]) -> bool:
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
        self._uids = UidGuards(store, APPLICATION, what="An application")
        # Applications seen recently, for the message path only (updates always read afresh).
        self._recent: Recent[ApplicationDoc] = Recent()

    async def find_recent(self, tenant_id: str, id_or_uid: str) -> ApplicationDoc | None:
        """`find`, answered from this process's memory for a few seconds (see `recent.py`)."""
        return await self._recent.get((tenant_id, id_or_uid), lambda: self.find(tenant_id, id_or_uid))

    def _forget(self, tenant_id: str) -> None:
        self._recent.forget(tenant_id)

    async def find(self, tenant_id: str, id_or_uid: str) -> ApplicationDoc | None:
        if is_application_id(id_or_uid):
            doc = await queries.read(self._store, APPLICATION, tenant_key(tenant_id), id_or_uid)
            if doc is not None:
                return doc
        return await self._uids.resolve(tenant_key(tenant_id), TENANT_SCOPE, id_or_uid)

    async def get(self, tenant_id: str, id_or_uid: str) -> ApplicationDoc:
        doc = await self.find(tenant_id, id_or_uid)
        if doc is None:
            raise NotFoundError("Application not found.")
        return doc

    async def create(
        self, tenant_id: str, data: ApplicationIn, *, get_if_exists: bool = False, seed: str | None = None
    ) -> tuple[ApplicationDoc, bool]:
        """Creates the application; returns it and whether it was created now."""
        quotas.check_metadata(data.metadata, self._settings, loc=["body", "metadata"])
        app_id = new_application_id(seed)
        pk = tenant_key(tenant_id)
        if seed is not None:
            # A retried request whose first try already stored the application.
            earlier = await queries.read(self._store, APPLICATION, pk, app_id)
            if earlier is not None:
                return earlier, False
        if data.uid is not None:
            existing = await self._uids.resolve(pk, TENANT_SCOPE, data.uid)
            if existing is not None:
                if get_if_exists:
                    return existing, False
                raise ConflictError("An application with this uid already exists.")
        now = to_wire(utcnow())
        doc: ApplicationDoc = {
            "id": app_id,
            "type": APPLICATION_TYPE,
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
                await self._uids.claim(pk, TENANT_SCOPE, data.uid, app_id)
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
        if filters is None or not filters.any:
            page = await queries.applications_page(self._store, tenant_id, params)
            return page.to_wire([to_out(doc) for doc in page.items])
        chosen = filters
        gate = asyncio.Semaphore(ENDPOINT_READS_AT_ONCE)

        async def endpoints_of(app_id: str) -> list[EndpointSummary]:
            async with gate:
                return await queries.endpoint_summaries(self._store, tenant_id, app_id)

        async def keep(apps: list[ApplicationDoc]) -> list[ApplicationDoc]:
            found = await asyncio.gather(*(endpoints_of(app["id"]) for app in apps))
            return [app for app, endpoints in zip(apps, found, strict=True) if chosen.keeps(endpoints)]

        page = await queries.applications_page_kept(self._store, tenant_id, params, keep)
        return page.to_wire([to_out(doc) for doc in page.items])

    async def update(
        self, tenant_id: str, id_or_uid: str, data: ApplicationIn
    ) -> tuple[ApplicationDoc, bool]:
        """PUT: replaces the application, or creates it when absent (Svix upsert)."""
        current = await self.find(tenant_id, id_or_uid)
        if current is None:
            if not is_application_id(id_or_uid) and data.uid is None:
                uid = path_identifier(id_or_uid, loc=["path", "app_id"])
                data = data.model_copy(update={"uid": uid})
            return await self.create(tenant_id, data)
        changes: ApplicationChanges = {
            "name": data.name,
            "uid": data.uid,
            "throttleRate": data.throttle_rate,
            "metadata": data.metadata or {},
        }
        return await self._apply(tenant_id, current, changes), False

    async def patch(self, tenant_id: str, id_or_uid: str, data: ApplicationPatch) -> ApplicationDoc:
        current = await self.get(tenant_id, id_or_uid)
        fields = data.model_dump(exclude_unset=True)
        changes: ApplicationChanges = {}
        if "name" in fields:
            changes["name"] = fields["name"]
        if "uid" in fields:
            changes["uid"] = fields["uid"]
        if "throttle_rate" in fields:
            # 0 (which Svix's spec allows in a PATCH) means no limit, as null does.
            changes["throttleRate"] = fields["throttle_rate"] or None
        if "metadata" in fields:
            changes["metadata"] = fields["metadata"] or {}
        return await self._apply(tenant_id, current, changes)

    async def delete(self, tenant_id: str, id_or_uid: str) -> ApplicationDoc:
        current = await self.get(tenant_id, id_or_uid)
        pk = tenant_key(tenant_id)
        self._forget(tenant_id)
        try:
            await self._store.delete(APPLICATIONS, pk, current["id"], etag=etag(current))
        except EtagMismatchError:
            raise PreconditionFailedError("The application changed meanwhile; retry.") from None
        if uid := current.get("uid"):
            await self._uids.release(pk, TENANT_SCOPE, uid, current["id"])
        # The endpoints go with their application, so nothing is delivered for it any more.
        for doc_id in await queries.endpoint_partition_ids(self._store, tenant_id, current["id"]):
            await self._store.delete(ENDPOINTS, app_key(tenant_id, current["id"]), doc_id)
        return current

    async def _apply(
        self, tenant_id: str, current: ApplicationDoc, changes: ApplicationChanges
    ) -> ApplicationDoc:
        if "metadata" in changes:
            quotas.check_metadata(changes["metadata"], self._settings, loc=["body", "metadata"])
        self._forget(tenant_id)
        pk = tenant_key(tenant_id)
        updated: ApplicationDoc = {**current, **changes, "updatedAt": to_wire(utcnow())}
        try:
            return await self._uids.move(
                pk,
                TENANT_SCOPE,
                current["id"],
                current.get("uid"),
                updated.get("uid"),
                lambda: self._store.replace(APPLICATIONS, updated, etag=etag(current)),
            )
        except EtagMismatchError:
            raise PreconditionFailedError("The application changed meanwhile; retry.") from None
