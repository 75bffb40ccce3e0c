"""Messages: accept, fan out to the matching endpoints, store, and read back.

Creating a message is one transactional batch in the app's partition of the `messages` container:
the message, its `eventId` guard (when it has one) and one `destination` document per matching
endpoint, each `pending`. Either all of them are written or none. Beyond one batch's capacity the
remaining destinations follow in further batches; the message lists all its endpoint ids, so an
interrupted create is finished by the SDK's retry (same idempotency key, same message id).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from shared import ids
from shared.clock import from_wire, to_wire, utcnow
from shared.errors import ConflictError, NotFoundError, PayloadTooLargeError, ValidationFailedError
from shared.models import ApplicationIn, MessageIn, MessageOut, MessageStatus
from shared.pagination import ListParams, fetch_page
from shared.services.applications import ApplicationService
from shared.services.endpoints import EndpointService
from shared.settings import HeraldSettings
from shared.store.base import MESSAGES, BatchFailedError, BatchOp, Doc, DocumentStore

MESSAGE_TYPE = "message"
EVENT_ID_TYPE = "event-id"
DESTINATION_TYPE = "destination"
# Cosmos allows 100 operations per transactional batch.
BATCH_LIMIT = 100


def destination_id(msg_id: str, endpoint_id: str) -> str:
    return f"{msg_id}~{endpoint_id}"


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
        destinations = [self._destination(message, endpoint_id) for endpoint_id in targets]
        first: list[BatchOp] = [BatchOp("create", message)]
        if data.event_id is not None:
            first.append(BatchOp("create", self._event_id_guard(message, now)))
        room = BATCH_LIMIT - len(first)
        first.extend(BatchOp("create", doc) for doc in destinations[:room])
        pk = [tenant_id, app_id]
        try:
            await self._write_first_batch(pk, first, message, now)
        except _AlreadyWritten as written:
            # A retry of a request that already stored this message: finish what it began.
            message = written.message
            destinations = [self._destination(message, ep) for ep in message["endpointIds"]]
        for start in range(room, len(destinations), BATCH_LIMIT):
            chunk = destinations[start : start + BATCH_LIMIT]
            await self._store.batch(MESSAGES, pk, [BatchOp("upsert", doc) for doc in chunk])
        return message

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
            inline = inline.model_copy(update={"uid": app_id_or_uid})
        app, _ = await self._apps.create(tenant_id, inline, get_if_exists=True, seed=seed)
        return app

    async def _write_first_batch(
        self, pk: list[str], ops: list[BatchOp], message: Doc, now: datetime
    ) -> None:
        for _ in range(2):
            try:
                await self._store.batch(MESSAGES, pk, ops)
                return
            except BatchFailedError as exc:
                if exc.status != 409:
                    raise
                if exc.index == 0:
                    existing = await self._store.read(MESSAGES, pk, message["id"])
                    if existing is not None:
                        raise _AlreadyWritten(existing) from exc
                    continue
                if exc.index == 1 and message["eventId"] is not None:
                    if not await self._expire_event_id(pk, message["eventId"], now):
                        raise ConflictError(
                            "A message with this eventId already exists.", code="conflict"
                        ) from exc
                    continue
                raise
        raise ConflictError("The message could not be stored; retry.", code="conflict")

    async def _expire_event_id(self, pk: list[str], event_id: str, now: datetime) -> bool:
        """Removes a guard whose 24 h are over (the local Cosmos server does not enforce `ttl`)."""
        guard = await self._store.read(MESSAGES, pk, f"evt~{event_id}")
        if guard is None:
            return True
        if from_wire(guard["expiresAt"]) > now:
            return False
        await self._store.delete(MESSAGES, pk, guard["id"], etag=guard["_etag"])
        return True

    def _event_id_guard(self, message: Doc, now: datetime) -> Doc:
        ttl = self._settings.event_id_ttl_seconds
        return {
            "id": f"evt~{message['eventId']}",
            "type": EVENT_ID_TYPE,
            "tenantId": message["tenantId"],
            "appId": message["appId"],
            "msgId": message["id"],
            "ttl": ttl,
            "expiresAt": to_wire(now + timedelta(seconds=ttl)),
        }

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


class _AlreadyWritten(Exception):
    def __init__(self, message: Doc) -> None:
        super().__init__(message["id"])
        self.message = message


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
