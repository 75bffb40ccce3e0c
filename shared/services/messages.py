"""Messages: accept, fan out to the matching endpoints, store, and read back.

Creating a message writes, in the app's partition of the `messages` container: its `eventId` guard
(when it has one), one `pending` destination document per matching endpoint, and last the message
itself. The message is the commit point: until it exists no reader shows the message, and an
interrupted create is finished by the SDK's retry (same idempotency key, so the same message id).
Destinations left by a create that is never retried belong to no message; readers skip them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from shared import ids
from shared.clock import from_wire, to_wire, utcnow
from shared.errors import ConflictError, NotFoundError, PayloadTooLargeError, ValidationFailedError
from shared.models import ApplicationIn, MessageIn, MessageOut, MessageStatus, path_identifier
from shared.pagination import ListParams, fetch_page
from shared.services.applications import ApplicationService
from shared.services.endpoints import EndpointService
from shared.settings import HeraldSettings
from shared.store.base import MESSAGES, Doc, DocumentExistsError, DocumentStore, EtagMismatchError

MESSAGE_TYPE = "message"
EVENT_ID_TYPE = "event-id"
DESTINATION_TYPE = "destination"
# Destination writes in flight at once for one message.
WRITE_CONCURRENCY = 25
# A guard whose message does not exist yet is someone's create in flight for this long.
IN_FLIGHT_SECONDS = 30


def destination_id(msg_id: str, endpoint_id: str) -> str:
    return f"{msg_id}~{endpoint_id}"


def event_guard_id(app_id: str, event_id: str) -> str:
    # Hashed: event ids may be 256 characters, Cosmos ids at most 255.
    return "evt~" + hashlib.sha256(f"{app_id}\n{event_id}".encode()).hexdigest()


def matches(endpoint: Mapping[str, Any], event_type: str, channels: Sequence[str] | None) -> bool:
    """Fan-out rule: enabled, listening to the type (or to all), and sharing a channel if it has any."""
    if endpoint.get("disabled"):
        return False
    types = endpoint.get("eventTypes")
    if types and event_type not in types:
        return False
    wanted = endpoint.get("channels")
    return not wanted or bool(set(wanted) & set(channels or ()))


def to_out(doc: Doc, *, with_content: bool = True) -> MessageOut:
    out = MessageOut.model_validate(doc)
    return out if with_content else out.model_copy(update={"payload": {}})


class MessageService:
    def __init__(
        self,
        store: DocumentStore,
        settings: HeraldSettings,
        applications: ApplicationService,
        endpoints: EndpointService,
    ) -> None:
        self._store = store
        self._settings = settings
        self._apps = applications
        self._endpoints = endpoints

    async def create(
        self, tenant_id: str, app_id_or_uid: str, data: MessageIn, *, seed: str | None = None
    ) -> Doc:
        self._check_payload_size(data.payload)
        now = utcnow()
        self._check_deliver_at(data.deliver_at, now)
        app = await self._resolve_app(tenant_id, app_id_or_uid, data.application, seed)
        app_id = app["id"]
        endpoints = await self._endpoints.list_all(tenant_id, app_id)
        targets = sorted(ep["id"] for ep in endpoints if matches(ep, data.event_type, data.channels))
        retention = self._retention_seconds(data)
        msg_id = ids.new_id(ids.MESSAGE, seed)
        message: Doc = {
            "id": msg_id,
            "type": MESSAGE_TYPE,
            "tenantId": tenant_id,
            "appId": app_id,
            "eventType": data.event_type,
            "eventId": data.event_id,
            "payload": data.payload,
            "channels": data.channels,
            "tags": data.tags,
            "timestamp": to_wire(now),
            "deliverAt": to_wire(data.deliver_at) if data.deliver_at else None,
            "endpointIds": targets,
            "ttl": retention,
            "expiresAt": to_wire(now + timedelta(seconds=retention)),
        }
        pk = [tenant_id, app_id]
        # Every step below is safe to repeat: a retry with the same seed (same message id) finds
        # its own eventId guard, rewrites the same destinations and meets its own message.
        if data.event_id is not None:
            await self._claim_event_id(pk, message, now)
        for start in range(0, len(targets), WRITE_CONCURRENCY):
            chunk = targets[start : start + WRITE_CONCURRENCY]
            await asyncio.gather(
                *(self._store.upsert(MESSAGES, self._destination(message, ep)) for ep in chunk)
            )
        try:
            return await self._store.create(MESSAGES, message)
        except DocumentExistsError:
            return await self.get(tenant_id, app_id, msg_id)

    async def get(self, tenant_id: str, app_id_or_uid: str, msg_id: str) -> Doc:
        app = await self._apps.get(tenant_id, app_id_or_uid)
        doc = await self._store.read(MESSAGES, [tenant_id, app["id"]], msg_id)
        if doc is None or doc.get("type") != MESSAGE_TYPE:
            raise NotFoundError("Message not found.")
        return doc

    async def list_page(
        self,
        tenant_id: str,
        app_id_or_uid: str,
        params: ListParams,
        *,
        with_content: bool,
        filters: Mapping[str, Any],
    ) -> dict[str, Any]:
        app = await self._apps.get(tenant_id, app_id_or_uid)
        where, parameters = message_filters("c", filters)
        page = await fetch_page(
            self._store,
            MESSAGES,
            [tenant_id, app["id"]],
            where=" AND ".join(["c.type = @type", *where]),
            parameters=[("@type", MESSAGE_TYPE), *parameters],
            params=params,
        )
        return page.to_wire([to_out(doc, with_content=with_content) for doc in page.items])

    async def expunge_content(self, tenant_id: str, app_id_or_uid: str, msg_id: str) -> None:
        doc = await self.get(tenant_id, app_id_or_uid, msg_id)
        await self._store.patch(
            MESSAGES,
            [tenant_id, doc["appId"]],
            msg_id,
            [
                {"op": "set", "path": "/payload", "value": {}},
                {"op": "set", "path": "/expunged", "value": True},
            ],
        )

    async def _resolve_app(
        self, tenant_id: str, app_id_or_uid: str, inline: ApplicationIn | None, seed: str | None
    ) -> Doc:
        app = await self._apps.find(tenant_id, app_id_or_uid)
        if app is not None:
            return app
        if inline is None:
            raise NotFoundError("Application not found.")
        # As in Svix: the inline application is created when the path names none yet.
        if inline.uid is None and not app_id_or_uid.startswith(f"{ids.APP}_"):
            uid = path_identifier(app_id_or_uid, loc=["path", "app_id"])
            inline = inline.model_copy(update={"uid": uid})
        app, _ = await self._apps.create(tenant_id, inline, get_if_exists=True, seed=seed)
        return app

    async def _claim_event_id(self, pk: list[str], message: Doc, now: datetime) -> None:
        """Holds the message's `eventId` for 24 h; 409 when another live message holds it."""
        ttl = self._settings.event_id_ttl_seconds
        guard: Doc = {
            "id": event_guard_id(message["appId"], message["eventId"]),
            "type": EVENT_ID_TYPE,
            "tenantId": message["tenantId"],
            "appId": message["appId"],
            "eventId": message["eventId"],
            "msgId": message["id"],
            "createdAt": to_wire(now),
            "ttl": ttl,
            "expiresAt": to_wire(now + timedelta(seconds=ttl)),
        }
        try:
            await self._store.create(MESSAGES, guard)
            return
        except DocumentExistsError:
            pass
        existing = await self._store.read(MESSAGES, pk, guard["id"])
        if existing is not None and existing["msgId"] == message["id"]:
            return
        if existing is not None and from_wire(existing["expiresAt"]) > now:
            # The local Cosmos server does not enforce `ttl`, so expiry is checked here too.
            holder = await self._store.read(MESSAGES, pk, existing["msgId"])
            in_flight = from_wire(existing["createdAt"]) > now - timedelta(seconds=IN_FLIGHT_SECONDS)
            if holder is not None or in_flight:
                raise ConflictError("A message with this eventId already exists.")
        try:
            if existing is None:
                await self._store.create(MESSAGES, guard)
            else:
                await self._store.replace(MESSAGES, guard, etag=existing["_etag"])
        except (DocumentExistsError, EtagMismatchError):
            raise ConflictError("A message with this eventId already exists.") from None

    @staticmethod
    def _destination(message: Doc, endpoint_id: str) -> Doc:
        return {
            "id": destination_id(message["id"], endpoint_id),
            "type": DESTINATION_TYPE,
            "tenantId": message["tenantId"],
            "appId": message["appId"],
            "msgId": message["id"],
            "endpointId": endpoint_id,
            "status": int(MessageStatus.PENDING),
            "nextAttempt": message["deliverAt"] or message["timestamp"],
            "eventType": message["eventType"],
            "channels": message["channels"],
            "tags": message["tags"],
            "timestamp": message["timestamp"],
            "updatedAt": message["timestamp"],
            "ttl": message["ttl"],
        }

    def _check_payload_size(self, payload: dict[str, Any]) -> None:
        size = len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
        if size > self._settings.max_payload_bytes:
            raise PayloadTooLargeError(
                f"The payload is {size} bytes serialized; the limit is {self._settings.max_payload_bytes}."
            )

    def _check_deliver_at(self, deliver_at: datetime | None, now: datetime) -> None:
        if deliver_at is None:
            return
        if deliver_at.tzinfo is None:
            raise ValidationFailedError.single(["body", "deliverAt"], "deliverAt must carry a timezone")
        latest = now + timedelta(hours=self._settings.max_deliver_at_hours)
        if not now - timedelta(minutes=1) <= deliver_at <= latest:
            raise ValidationFailedError.single(
                ["body", "deliverAt"],
                f"deliverAt must be between now and {self._settings.max_deliver_at_hours} hours ahead",
            )

    def _retention_seconds(self, data: MessageIn) -> int:
        if data.payload_retention_hours is not None:
            return data.payload_retention_hours * 3600
        days = data.payload_retention_period or self._settings.retention_days
        return days * 24 * 3600


def message_filters(alias: str, filters: Mapping[str, Any]) -> tuple[list[str], list[tuple[str, Any]]]:
    """Cosmos SQL conditions for the list filters Svix offers on messages and attempts.

    `before` and `after` arrive normalized to the stored timestamp form.
    """
    where: list[str] = []
    params: list[tuple[str, Any]] = []
    if filters.get("channel"):
        where.append(f"ARRAY_CONTAINS({alias}.channels, @channel)")
        params.append(("@channel", filters["channel"]))
    if filters.get("tag"):
        where.append(f"ARRAY_CONTAINS({alias}.tags, @tag)")
        params.append(("@tag", filters["tag"]))
    if filters.get("event_types"):
        names = [name for name in str(filters["event_types"]).split(",") if name]
        placeholders = []
        for index, name in enumerate(names):
            placeholders.append(f"@et{index}")
            params.append((f"@et{index}", name))
        where.append(f"{alias}.eventType IN ({', '.join(placeholders)})")
    for key, op in (("before", "<"), ("after", ">")):
        if filters.get(key):
            where.append(f"{alias}.timestamp {op} @{key}")
            params.append((f"@{key}", filters[key]))
    return where, params
