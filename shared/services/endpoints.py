"""Endpoints of an application: where messages go, what they listen to, how they are signed.

Each change made through the API is announced to the tenant's operational webhooks (Svix's
`endpoint.created`, `.updated`, `.deleted`, and `.enabled` or `.disabled` when that flag flips);
an automatic disable is announced where it happens (`delivery.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any, Protocol, cast

from shared import quotas
from shared.clock import from_wire, to_wire, utcnow
from shared.delivery import headers as custom_headers
from shared.errors import NotFoundError, PreconditionFailedError, ValidationFailedError
from shared.models import (
    EndpointHeadersOut,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    EndpointStats,
    EndpointUpdate,
    MessageStatus,
    path_identifier,
)
from shared.outbound import RefusedTargetError, check_endpoint_url
from shared.pagination import ListParams
from shared.secretbox import SecretBox
from shared.services.recent import Recent
from shared.services.uids import UidGuards
from shared.settings import HeraldSettings
from shared.signing import generate_secret, normalize_secret, shown_key
from shared.store import queries
from shared.store.base import ENDPOINTS, DocumentExistsError, DocumentStore, EtagMismatchError
from shared.store.queries import Window
from shared.store.schema import (
    ENDPOINT_TYPE,
    DisabledReason,
    EndpointChanges,
    EndpointDoc,
    EndpointFields,
    EndpointKind,
    SealedSecret,
    app_key,
    endpoint_kind,
    etag,
    is_endpoint_id,
    new_endpoint_id,
)

DEFAULT_GRACE_SECONDS = 24 * 3600

# Returned by name only, never by value: Svix's list, and the usual API key and cookie headers.
SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "www-authenticate",
        "proxy-authenticate",
        "cookie",
        "x-api-key",
        "x-auth-token",
    }
)


# Why an endpoint is disabled (shown by GET .../health): by a caller, after failing for
# HERALD_AUTO_DISABLE_AFTER_SECONDS, or because its receiver answered 410 Gone.
def _disabled_by(reason: DisabledReason | None) -> EndpointChanges:
    """The fields that record why and when an endpoint was disabled (cleared when it is enabled)."""
    if reason is None:
        return {"disabledReason": None, "disabledAt": None}
    return {"disabledReason": reason, "disabledAt": to_wire(utcnow())}


class EndpointEvents(Protocol):
    """Where changes to endpoints are announced (`operational.OperationalEvents`)."""

    def endpoint_changed(self, event_type: str, endpoint: EndpointDoc, extra: Mapping[str, Any]) -> None:
        """Announces `event_type` about `endpoint` without holding up the caller."""


def to_out(doc: EndpointDoc) -> EndpointOut:
    return EndpointOut.model_validate(doc)


def check_headers(headers: Mapping[str, str], *, loc: list[str | int]) -> dict[str, str]:
    """The headers as given, if every one may be sent (see `shared/delivery/headers.py`); else 422."""
    try:
        custom_headers.check_headers(headers)
    except custom_headers.InvalidHeaderError as exc:
        raise ValidationFailedError.single([*loc, exc.name], str(exc)) from None
    return dict(headers)


def _without(headers: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """`headers` less `names`, compared as HTTP compares names (case-insensitively)."""
    gone = {name.lower() for name in names}
    return {name: value for name, value in headers.items() if name.lower() not in gone}


def _active(entry: SealedSecret) -> bool:
    return entry.get("expiresAt") is None or from_wire(entry["expiresAt"]) > utcnow()


def _secret_context(tenant_id: str, app_id: str, endpoint_id: str) -> str:
    # Bound to its endpoint: a sealed secret copied onto another endpoint does not open.
    return f"{tenant_id}/{app_id}/{endpoint_id}"


def _context_of(doc: EndpointDoc) -> str:
    return _secret_context(doc["tenantId"], doc["appId"], doc["id"])


class EndpointService:
    def __init__(
        self,
        store: DocumentStore,
        secrets: SecretBox,
        settings: HeraldSettings,
        *,
        kind: EndpointKind = ENDPOINT_TYPE,
        events: EndpointEvents | None = None,
    ) -> None:
        self._store = store
        self._secrets = secrets
        self._settings = settings
        # The document type served: operational-webhook endpoints are the same thing, kept apart.
        self._kind: EndpointKind = kind
        self._endpoints = endpoint_kind(kind)
        self._events = events
        self._uids = UidGuards(store, self._endpoints, what="An endpoint")
        # Each application's endpoints as recently listed, for the message path only.
        self._recent: Recent[list[EndpointDoc]] = Recent()

    async def find(self, tenant_id: str, app_id: str, id_or_uid: str) -> EndpointDoc | None:
        pk = app_key(tenant_id, app_id)
        if is_endpoint_id(id_or_uid):
            doc = await queries.read(self._store, self._endpoints, pk, id_or_uid)
            if doc is not None:
                return doc
        return await self._uids.resolve(pk, app_id, id_or_uid)

    async def get(self, tenant_id: str, app_id: str, id_or_uid: str) -> EndpointDoc:
        doc = await self.find(tenant_id, app_id, id_or_uid)
        if doc is None:
            raise NotFoundError("Endpoint not found.")
        return doc

    async def list_all(self, tenant_id: str, app_id: str) -> list[EndpointDoc]:
        return await queries.endpoints(self._store, tenant_id, app_id, self._kind)

    async def list_recent(self, tenant_id: str, app_id: str) -> list[EndpointDoc]:
        """`list_all`, answered from this process's memory for a few seconds (see `recent.py`)."""
        return await self._recent.get((tenant_id, app_id), lambda: self.list_all(tenant_id, app_id)) or []

    async def list_page(self, tenant_id: str, app_id: str, params: ListParams) -> dict[str, Any]:
        page = await queries.endpoints_page(self._store, tenant_id, app_id, self._kind, params)
        return page.to_wire([to_out(doc) for doc in page.items])

    async def create(
        self, tenant_id: str, app_id: str, data: EndpointIn, *, seed: str | None = None
    ) -> EndpointDoc:
        # The checks that need no lookup first.
        headers = check_headers(data.headers or {}, loc=["body", "headers"])
        url = await self._check_url(data.url)
        secret = normalize_secret(data.secret, loc=["body", "secret"]) if data.secret else generate_secret()
        fields = self._fields(data, url)
        quotas.check_endpoint({**fields, "headers": headers}, self._settings)
        endpoint_id = new_endpoint_id(seed)
        sealed = await self._secrets.seal(secret, context=_secret_context(tenant_id, app_id, endpoint_id))
        now = to_wire(utcnow())
        doc: EndpointDoc = {
            "id": endpoint_id,
            "type": self._kind,
            "tenantId": tenant_id,
            "appId": app_id,
            **fields,
            "headers": headers,
            "createdAt": now,
            "updatedAt": now,
            "secrets": [{"sealed": sealed}],
            # Created disabled: by its owner, as a later disable through the API would be.
            "disabledReason": "manual" if fields["disabled"] else None,
            "disabledAt": now if fields["disabled"] else None,
        }
        pk = app_key(tenant_id, app_id)
        if seed is not None:
            # A retried request whose first try already stored the endpoint.
            earlier = await queries.read(self._store, self._endpoints, pk, doc["id"])
            if earlier is not None:
                return earlier
        await self._check_room(tenant_id, app_id)
        if data.uid is not None:
            await self._uids.claim(pk, app_id, data.uid, doc["id"])
        try:
            stored = await self._store.create(ENDPOINTS, doc)
        except DocumentExistsError:
            return await self.get(tenant_id, app_id, doc["id"])
        finally:
            self._recent.forget(tenant_id, app_id)
        self._announce("endpoint.created", stored)
        return stored

    async def update(
        self, tenant_id: str, app_id: str, id_or_uid: str, data: EndpointUpdate
    ) -> tuple[EndpointDoc, bool]:
        """PUT: replaces the endpoint's settings, or creates it when absent (Svix upsert)."""
        current = await self.find(tenant_id, app_id, id_or_uid)
        if current is None:
            fields = data.model_dump(exclude_unset=True)
            if not is_endpoint_id(id_or_uid) and data.uid is None:
                fields["uid"] = path_identifier(id_or_uid, loc=["path", "endpoint_id"])
            return await self.create(tenant_id, app_id, EndpointIn.model_validate(fields)), True
        url = await self._check_url(data.url)
        # Every field a PUT sets (EndpointFields' keys, all of them changes an update may make).
        changes = cast(EndpointChanges, self._fields(data, url))
        return await self._apply_and_announce(tenant_id, current, changes), False

    async def patch(self, tenant_id: str, app_id: str, id_or_uid: str, data: EndpointPatch) -> EndpointDoc:
        """Changes only the fields given (see `EndpointPatch` for what an empty value means)."""
        current = await self.get(tenant_id, app_id, id_or_uid)
        given = data.model_dump(exclude_unset=True)
        secret = given.pop("secret", None)
        # Keys of EndpointFields, all of them fields EndpointChanges may change.
        changes = cast(
            EndpointChanges,
            {
                key: value
                for key, value in self._fields(data, current["url"]).items()
                if self._FIELD_NAMES[key] in given
            },
        )
        if data.url is not None:
            changes["url"] = await self._check_url(data.url)
        if secret is not None:
            new_key = normalize_secret(secret, loc=["body", "secret"])
            changes["secrets"] = await self._rotated_secrets(current, new_key, DEFAULT_GRACE_SECONDS)
        return await self._apply_and_announce(tenant_id, current, changes)

    async def delete(self, tenant_id: str, app_id: str, id_or_uid: str) -> None:
        current = await self.get(tenant_id, app_id, id_or_uid)
        pk = app_key(tenant_id, app_id)
        try:
            await self._store.delete(ENDPOINTS, pk, current["id"], etag=etag(current))
        except EtagMismatchError:
            raise PreconditionFailedError("The endpoint changed meanwhile; retry.") from None
        self._recent.forget(tenant_id, app_id)
        if uid := current.get("uid"):
            await self._uids.release(pk, app_id, uid, current["id"])
        self._announce("endpoint.deleted", current)

    async def disable(self, doc: EndpointDoc, *, reason: DisabledReason) -> bool:
        """Disables an endpoint (410 Gone, or failing too long); True if this call disabled it."""
        current = await self.find(doc["tenantId"], doc["appId"], doc["id"])
        if current is None or current.get("disabled"):
            return False
        try:
            await self._apply(doc["tenantId"], current, {"disabled": True, **_disabled_by(reason)})
        except PreconditionFailedError:
            return False
        return True

    async def get_secret(self, tenant_id: str, app_id: str, id_or_uid: str) -> str:
        """The current key as Svix shows it: an Ed25519 key by its public half (`whpk_`)."""
        doc = await self.get(tenant_id, app_id, id_or_uid)
        return shown_key(await self._open(doc, doc["secrets"][0]))

    async def signing_secrets(self, doc: EndpointDoc) -> list[str]:
        """The keys to sign with now: the current one and any still in their grace period."""
        return [await self._open(doc, entry) for entry in doc["secrets"] if _active(entry)]

    async def rotate_secret(
        self, tenant_id: str, app_id: str, id_or_uid: str, key: str | None, grace_seconds: int | None
    ) -> str:
        """Makes a new key current; the old ones keep signing for the grace period.

        Returns the new key as `get_secret` shows it.
        """
        current = await self.get(tenant_id, app_id, id_or_uid)
        new_key = normalize_secret(key, loc=["body", "key"]) if key else generate_secret()
        grace = DEFAULT_GRACE_SECONDS if grace_seconds is None else grace_seconds
        secrets = await self._rotated_secrets(current, new_key, grace)
        await self._apply_and_announce(tenant_id, current, {"secrets": secrets})
        return shown_key(new_key)

    async def _rotated_secrets(self, current: EndpointDoc, new_key: str, grace: int) -> list[SealedSecret]:
        """The secrets after a rotation to `new_key`: it first, then the old ones still in grace."""
        expires = to_wire(utcnow() + timedelta(seconds=grace))
        # Old keys keep signing until the grace period ends (or their own, earlier, end).
        still_valid: list[SealedSecret] = [
            {**entry, "expiresAt": min(entry.get("expiresAt") or expires, expires)}
            for entry in current["secrets"]
            if grace > 0 and _active(entry)
        ]
        sealed = await self._secrets.seal(new_key, context=_context_of(current))
        return [{"sealed": sealed}, *still_valid]

    async def _check_url(self, url: str) -> str:
        """The URL as the HTTP client will send it (what is stored), if the SSRF guard allows it."""
        try:
            return await check_endpoint_url(url, self._settings)
        except RefusedTargetError as exc:
            raise ValidationFailedError.single(["body", "url"], str(exc), "value_error.url") from None

    async def _open(self, doc: EndpointDoc, entry: SealedSecret) -> str:
        return await self._secrets.open(entry["sealed"], context=_context_of(doc))

    async def get_headers(
        self, tenant_id: str, app_id: str, id_or_uid: str, *, with_values: bool
    ) -> EndpointHeadersOut:
        """The custom headers (Svix's shape): sensitive ones by name only; all of them without
        `with_values`."""
        doc = await self.get(tenant_id, app_id, id_or_uid)
        headers = doc.get("headers", {})
        sensitive = sorted(name for name in headers if not with_values or name.lower() in SENSITIVE_HEADERS)
        visible = {name: value for name, value in headers.items() if name not in sensitive}
        return EndpointHeadersOut(headers=visible, sensitive=sensitive)

    async def set_headers(
        self,
        tenant_id: str,
        app_id: str,
        id_or_uid: str,
        headers: Mapping[str, str],
        *,
        merge: bool,
        remove: list[str] | None = None,
    ) -> None:
        current = await self.get(tenant_id, app_id, id_or_uid)
        checked = check_headers(headers, loc=["body", "headers"])
        # A name given again replaces the stored one whatever its case: never two of one header.
        result = {**_without(current.get("headers", {}), checked), **checked} if merge else checked
        result = _without(result, remove or [])
        await self._apply(tenant_id, current, {"headers": result})

    async def stats(
        self, tenant_id: str, app_id: str, id_or_uid: str, since: str | None, until: str | None
    ) -> EndpointStats:
        endpoint = await self.get(tenant_id, app_id, id_or_uid)
        window = Window(since or None, until or None)
        settled = [s for s in MessageStatus if s != MessageStatus.PENDING]
        total, *counts = await asyncio.gather(
            # A pair is pending until its first attempt writes its status document.
            queries.count_messages_for_endpoint(self._store, tenant_id, app_id, endpoint["id"], window),
            *(
                queries.count_destinations(self._store, tenant_id, app_id, endpoint["id"], status, window)
                for status in settled
            ),
        )
        numbers = {status.text: n for status, n in zip(settled, counts, strict=True)}
        return EndpointStats(**numbers, pending=max(0, total - sum(counts)))

    async def _apply_and_announce(
        self, tenant_id: str, current: EndpointDoc, changes: EndpointChanges
    ) -> EndpointDoc:
        """`_apply` a change made through the API, and announce it: updated, then enabled or disabled."""
        if "disabled" in changes and bool(changes["disabled"]) != bool(current.get("disabled")):
            changes = {**changes, **(_disabled_by("manual") if changes["disabled"] else _disabled_by(None))}
        stored = await self._apply(tenant_id, current, changes)
        self._announce("endpoint.updated", stored)
        if current.get("disabled") and not stored.get("disabled"):
            self._announce("endpoint.enabled", stored)
        elif stored.get("disabled") and not current.get("disabled"):
            self._announce("endpoint.disabled", stored, trigger="manual", failSince=None)
        return stored

    def _announce(self, event_type: str, endpoint: EndpointDoc, **extra: Any) -> None:
        if self._events is not None:
            self._events.endpoint_changed(event_type, endpoint, extra)

    async def _check_room(self, tenant_id: str, app_id: str) -> None:
        """409 when the application (or the tenant's operational webhooks) has its most endpoints.

        Counted before the create: concurrent creates may overshoot by as many as are in flight.
        """
        count = await queries.endpoint_count(self._store, tenant_id, app_id, self._kind)
        what = "An application" if self._kind == ENDPOINT_TYPE else "A tenant's operational webhooks"
        quotas.check_room(
            count,
            self._settings.max_endpoints_per_app,
            what=f"{what} already has the most endpoints allowed",
        )

    async def _apply(self, tenant_id: str, current: EndpointDoc, changes: EndpointChanges) -> EndpointDoc:
        quotas.check_endpoint(changes, self._settings)
        app_id = current["appId"]
        pk = app_key(tenant_id, app_id)
        updated: EndpointDoc = {**current, **changes, "updatedAt": to_wire(utcnow())}
        try:
            stored = await self._uids.move(
                pk,
                app_id,
                current["id"],
                current.get("uid"),
                updated.get("uid"),
                lambda: self._store.replace(ENDPOINTS, updated, etag=etag(current)),
            )
        except EtagMismatchError:
            self._recent.forget(tenant_id, app_id)
            raise PreconditionFailedError("The endpoint changed meanwhile; retry.") from None
        self._recent.forget(tenant_id, app_id)
        return stored

    # Each stored field and the input field it comes from.
    _FIELD_NAMES = {
        "url": "url",
        "uid": "uid",
        "description": "description",
        "throttleRate": "throttle_rate",
        "disabled": "disabled",
        "eventTypes": "event_types",
        "channels": "channels",
        "metadata": "metadata",
        "version": "version",
    }

    @staticmethod
    def _fields(data: EndpointUpdate | EndpointPatch, url: str) -> EndpointFields:
        # Empty lists and a rate of 0 are "no filter" and "no limit", as null is.
        return {
            "url": url,
            "uid": data.uid,
            "description": data.description or "",
            "throttleRate": data.throttle_rate or None,
            "disabled": bool(data.disabled),
            "eventTypes": sorted(set(data.event_types)) if data.event_types else None,
            "channels": sorted(set(data.channels)) if data.channels else None,
            "metadata": data.metadata or {},
            "version": getattr(data, "version", None) or 1,
        }
