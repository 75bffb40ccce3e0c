"""Messages: accept, fan out to the matching endpoints, store, and read back.

Accepting a message is one request to Cosmos: a batch of creates in the app's partition of the
`messages` container holding the idempotency guard (when the caller sent a key), the `eventId`
guard (when the message has one) and the message itself, which lists the endpoints it is for.
A guard that already exists stops the batch: the earlier message is answered again (same key) or
the duplicate is refused (same eventId). Each message-endpoint pair is `pending` until its first
attempt writes its `destination` document; nothing else is written per endpoint on accept.

A payload kept for less than the message (`payloadRetentionPeriod`/`Hours` shorter than
HERALD_RETENTION_DAYS) is a document of its own in the same batch (`content~<msg>`, its `ttl` the
payload's), so Cosmos deletes the payload when it expires and the message, its statuses and its
attempts stay. The message records when (`payloadExpiresAt`): an expired payload is known without
a read, also on the local server, which does not enforce `ttl`. Every other payload lives in its
message, as before: the option costs a document, never a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from shared.clock import from_wire, to_wire, utcnow
from shared.errors import (
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    ServiceUnavailableError,
    ValidationFailedError,
)
from shared.models import (
    ApplicationIn,
    BulkExpungeContentsOut,
    BulkExpungeStatus,
    MessageIn,
    MessageOut,
    MessagePrecheckIn,
    path_identifier,
)
from shared.pagination import ListParams
from shared.services.applications import ApplicationService
from shared.services.endpoints import EndpointService
from shared.settings import HeraldSettings
from shared.store import queries
from shared.store.base import MESSAGES, BatchFailedError, DocumentStore, EtagMismatchError, PartitionKey
from shared.store.joined import JoinedBatches
from shared.store.queries import MessageFilter
from shared.store.schema import (
    CONTENT,
    CONTENT_TYPE,
    EVENT_GUARD,
    EVENT_GUARD_TYPE,
    KEY_GUARD,
    KEY_GUARD_TYPE,
    MESSAGE,
    MESSAGE_TYPE,
    ApplicationDoc,
    ContentDoc,
    EndpointDoc,
    EventGuardDoc,
    KeyGuardDoc,
    MessageDoc,
    MessageHead,
    PayloadState,
    Subscription,
    app_key,
    content_id,
    etag,
    event_guard_id,
    is_application_id,
    is_message_id,
    key_guard_id,
    key_of,
    new_message_id,
)

# A guard whose message does not exist yet is someone's create in flight for this long.
IN_FLIGHT_SECONDS = 30
POLL_SECONDS = 0.05
# Messages a bulk expunge works on at once.
EXPUNGE_CONCURRENCY = 10


@dataclass(frozen=True)
class Accepted:
    """A message stored (or stored before), as the API answers it and its first round sends it."""

    message: MessageDoc
    # False when an earlier request with the same idempotency key stored the message.
    created: bool
    # The first request's choice, so that a replay answers exactly the same.
    with_content: bool
    # The endpoints it is for, as read when it was accepted (its first round needs no second read).
    endpoints: tuple[EndpointDoc, ...] = ()


def _accepted(
    message: MessageDoc, *, created: bool, with_content: bool, endpoints: Sequence[EndpointDoc] = ()
) -> Accepted:
    return Accepted(message, created=created, with_content=with_content, endpoints=tuple(endpoints))


# A guard a message's batch carries: its idempotency key's, its eventId's.
Guard = KeyGuardDoc | EventGuardDoc


def payload_gone(message: PayloadState, now: datetime | None = None) -> bool:
    """Whether the payload was expunged or has expired: it can be neither shown nor sent."""
    if message.get("expunged") or message.get("payloadExpired"):
        return True
    expires = message.get("payloadExpiresAt")
    return expires is not None and from_wire(expires) <= (now or utcnow())


def _stored_apart(message: MessageDoc) -> bool:
    return bool(message.get("payloadExpiresAt")) and "payload" not in message


async def with_content(store: DocumentStore, message: MessageDoc) -> MessageDoc:
    """`message` with its payload, read from its content document when it is stored apart.

    A payload gone (expunged, expired, or its document deleted by Cosmos) comes back as `{}`
    with `payloadExpired`, so `payload_gone` answers True.
    """
    if not _stored_apart(message):
        return message
    if payload_gone(message):
        return {**message, "payload": {}, "payloadExpired": True}
    content = await queries.read(store, CONTENT, key_of(message), content_id(message["id"]))
    return _merged(message, content)


async def with_contents(store: DocumentStore, messages: Sequence[MessageDoc]) -> list[MessageDoc]:
    """`with_content` for a page of messages: one concurrent read per payload stored apart."""
    return list(await asyncio.gather(*(with_content(store, message) for message in messages)))


def _merged(message: MessageDoc, content: ContentDoc | None) -> MessageDoc:
    if content is None:
        return {**message, "payload": {}, "payloadExpired": True}
    merged: MessageDoc = {**message, "payload": content["payload"]}
    if "transformationsParams" in content:
        merged["transformationsParams"] = content["transformationsParams"]
    return merged


def matches(endpoint: Subscription, event_type: str, channels: Sequence[str] | None) -> bool:
    """Fan-out rule: enabled, listening to the type (or to all), and sharing a channel if it has any."""
    if endpoint.get("disabled"):
        return False
    types = endpoint.get("eventTypes")
    if types and event_type not in types:
        return False
    wanted = endpoint.get("channels")
    return not wanted or bool(set(wanted) & set(channels or ()))


def message_filter(filters: Mapping[str, Any]) -> MessageFilter:
    """The list filters Svix offers on messages and attempts, from the query (empty: not given).

    `before` and `after` arrive normalized to the stored timestamp form.
    """
    event_types = filters.get("event_types")
    return MessageFilter(
        channel=filters.get("channel") or None,
        tag=filters.get("tag") or None,
        event_types=tuple(name for name in str(event_types).split(",") if name) if event_types else None,
        before=filters.get("before") or None,
        after=filters.get("after") or None,
    )


def to_out(doc: Mapping[str, Any], *, with_content: bool = True) -> MessageOut:
    """The message as Svix shows it; a payload not asked for, expunged or expired is `{}`.

    A payload stored apart and not read (`with_content`) shows as `{}` too: only delivery needs
    every byte, and it reads `doc["payload"]` itself. `doc` may be `Accepted.message`.
    """
    message = cast(MessageDoc, doc)
    shown = message.get("payload", {}) if with_content and not payload_gone(message) else {}
    return MessageOut.model_validate({**message, "payload": shown})


class MessageService:
    def __init__(
        self,
        store: DocumentStore,
        settings: HeraldSettings,
        applications: ApplicationService,
        endpoints: EndpointService,
        batches: JoinedBatches | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._apps = applications
        self._endpoints = endpoints
        # Messages of one application accepted together share a batch (see store/joined.py).
        self._batches = batches or JoinedBatches(store)

    async def accept(
        self,
        tenant_id: str,
        app_id_or_uid: str,
        data: MessageIn,
        *,
        idempotency_key: str | None = None,
        fingerprint: str = "",
        with_content: bool = True,
        only_to: EndpointDoc | None = None,
    ) -> Accepted:
        """Stores a message once per idempotency key; a repeated key gets the first message back.

        `only_to`: the one endpoint of the application the message is for, whatever its filters
        (Svix's send-example); by default, every endpoint the fan-out rule picks.
        """
        self._check_payload_size(data)
        now = utcnow()
        self._check_deliver_at(data.deliver_at, now)
        app = await self._resolve_app(tenant_id, app_id_or_uid, data.application)
        app_id = app["id"]
        if only_to is not None:
            matching = [only_to]
        else:
            endpoints = await self._endpoints.list_recent(tenant_id, app_id)
            matching = sorted(
                (ep for ep in endpoints if matches(ep, data.event_type, data.channels)),
                key=lambda ep: str(ep["id"]),
            )
        targets = [ep["id"] for ep in matching]
        retention = self._settings.retention_days * 86400
        message: MessageDoc = {
            "id": new_message_id(),
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
        if data.transformations_params is not None:
            message["transformationsParams"] = data.transformations_params.model_dump(
                by_alias=True, exclude_unset=True
            )
        throttle_rate = app.get("throttleRate")
        if throttle_rate:
            # The application's rate travels with its messages: delivery enforces it without
            # reading the application (no request added to a message's path).
            message["appThrottleRate"] = throttle_rate
        documents: list[MessageDoc | ContentDoc] = [message]
        payload_seconds = self._payload_retention_seconds(data)
        if payload_seconds is not None:
            expires = to_wire(now + timedelta(seconds=payload_seconds))
            message["payloadExpiresAt"] = expires
            # The payload and what came with it (the raw body, its type) go to their own document.
            stored: MessageDoc = {**message}
            del stored["payload"]
            stored.pop("transformationsParams", None)
            documents = [stored, self._content_doc(message, payload_seconds, expires)]
        guards: list[Guard] = []
        if idempotency_key is not None:
            guards.append(self._key_guard(message, idempotency_key, fingerprint, with_content, now))
        if data.event_id is not None:
            guards.append(self._event_guard(message, data.event_id, now))
        pk = app_key(tenant_id, app_id)
        deadline = asyncio.get_running_loop().time() + self._settings.idempotency_wait_seconds
        while True:
            try:
                await self._batches.create_batch(MESSAGES, pk, [*guards, *documents])
                return _accepted(message, created=True, with_content=with_content, endpoints=matching)
            except BatchFailedError as exc:
                # Nothing of it was written (the store sees to that on the local server too). Only
                # a guard can collide: the message's own id is new.
                if exc.status != 409 or exc.index >= len(guards):
                    raise ServiceUnavailableError("The message could not be stored, retry later.") from exc
                earlier = await self._resolve_conflict(pk, guards[exc.index], now)
            if earlier is not None:
                return earlier
            if asyncio.get_running_loop().time() > deadline:
                raise ConflictError(
                    "A request with this idempotency key is still in progress.",
                    code="idempotency_in_progress",
                )
            await asyncio.sleep(POLL_SECONDS)

    async def create(self, tenant_id: str, app_id_or_uid: str, data: MessageIn) -> MessageDoc:
        """Stores a message without an idempotency key."""
        return (await self.accept(tenant_id, app_id_or_uid, data)).message

    async def get(
        self, tenant_id: str, app_id_or_uid: str, msg_id_or_event_id: str, *, content: bool = True
    ) -> MessageDoc:
        """The message the path names by id or by `eventId` (Svix's "ID or UID"), 404 when none.

        `content`: with its payload (read from its own document when it is kept apart); without,
        for callers that need only the message's fields.

        :raises NotFoundError: no such application or message.
        """
        app = await self._apps.get(tenant_id, app_id_or_uid)
        doc = await self.find(tenant_id, app["id"], msg_id_or_event_id)
        if doc is None:
            raise NotFoundError("Message not found.")
        return await with_content(self._store, doc) if content else doc

    async def find(self, tenant_id: str, app_id: str, msg_id_or_event_id: str) -> MessageDoc | None:
        """By id (a point read), else by `eventId`: the newest message carrying it (one query).

        An `eventId` is unique per application only for HERALD_EVENT_ID_TTL_SECONDS; after that
        a later message may carry it again, and the name means the latest.
        """
        if is_message_id(msg_id_or_event_id):
            doc = await queries.read(self._store, MESSAGE, app_key(tenant_id, app_id), msg_id_or_event_id)
            if doc is not None:
                return doc
        return await queries.newest_message_with_event_id(self._store, tenant_id, app_id, msg_id_or_event_id)

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
        page = await queries.messages_page(self._store, tenant_id, app["id"], params, message_filter(filters))
        docs = await with_contents(self._store, page.items) if with_content else page.items
        return page.to_wire([to_out(doc, with_content=with_content) for doc in docs])

    async def expunge_content(self, tenant_id: str, app_id_or_uid: str, msg_id_or_event_id: str) -> None:
        """Deletes a message's payload (Svix's `DELETE .../content`); it can no longer be sent.

        :raises NotFoundError: no such application or message.
        """
        await self.expunge(await self.get(tenant_id, app_id_or_uid, msg_id_or_event_id, content=False))

    async def bulk_expunge(
        self, tenant_id: str, app_id_or_uid: str, names: Sequence[str]
    ) -> BulkExpungeContentsOut:
        """Expunges each message named (by id or eventId); says which were found.

        :raises NotFoundError: no such application.
        """
        app = await self._apps.get(tenant_id, app_id_or_uid)
        gate = asyncio.Semaphore(EXPUNGE_CONCURRENCY)

        async def one(name: str) -> BulkExpungeStatus:
            async with gate:
                doc = await self.find(tenant_id, app["id"], name)
                if doc is None:
                    return BulkExpungeStatus.NOT_FOUND
                await self.expunge(doc)
                return BulkExpungeStatus.EXPUNGED

        unique = list(dict.fromkeys(names))
        statuses = await asyncio.gather(*(one(name) for name in unique))
        return BulkExpungeContentsOut(results=dict(zip(unique, statuses, strict=True)))

    async def expunge(self, message: MessageHead) -> bool:
        """Deletes the payload of a stored message; False when it was gone already.

        A payload kept apart goes first: were the patch to fail after it, the message reads as
        expired, never with its payload.
        """
        if message.get("expunged"):
            return False
        pk = key_of(message)
        if message.get("payloadExpiresAt"):
            await self._store.delete(MESSAGES, pk, content_id(message["id"]))
        operations: list[dict[str, Any]] = [
            {"op": "set", "path": "/payload", "value": {}},
            # A raw payload is the payload too. Set, not removed: a removal fails where it is absent.
            {"op": "set", "path": "/transformationsParams", "value": None},
            {"op": "set", "path": "/expunged", "value": True},
        ]
        await self._store.patch(MESSAGES, pk, message["id"], operations)
        return not payload_gone(message)

    async def precheck(self, tenant_id: str, app_id_or_uid: str, data: MessagePrecheckIn) -> bool:
        """Whether a message of this type and channels would reach any endpoint now.

        :raises NotFoundError: no such application.
        """
        app = await self._apps.find_recent(tenant_id, app_id_or_uid)
        if app is None:
            raise NotFoundError("Application not found.")
        endpoints = await self._endpoints.list_recent(tenant_id, app["id"])
        return any(matches(ep, data.event_type, data.channels) for ep in endpoints)

    async def _resolve_app(
        self, tenant_id: str, app_id_or_uid: str, inline: ApplicationIn | None
    ) -> ApplicationDoc:
        app = await self._apps.find_recent(tenant_id, app_id_or_uid)
        if app is not None:
            return app
        if inline is None:
            raise NotFoundError("Application not found.")
        # As in Svix: the inline application is created when the path names none yet.
        if inline.uid is None and not is_application_id(app_id_or_uid):
            uid = path_identifier(app_id_or_uid, loc=["path", "app_id"])
            inline = inline.model_copy(update={"uid": uid})
        app, _ = await self._apps.create(tenant_id, inline, get_if_exists=True)
        return app

    async def _resolve_conflict(self, pk: PartitionKey, guard: Guard, now: datetime) -> Accepted | None:
        """What an existing guard means: the earlier answer, a refusal, or None to try again."""
        existing = await self._read_guard(pk, guard)
        if existing is None:
            return None
        holder = await queries.read(self._store, MESSAGE, pk, existing["msgId"])
        if holder is not None:
            # A replay answers with the payload, as the first answer did.
            holder = await with_content(self._store, holder)
        young = from_wire(existing["createdAt"]) > now - timedelta(seconds=IN_FLIGHT_SECONDS)
        expired = from_wire(existing["expiresAt"]) <= now
        if existing["type"] == KEY_GUARD_TYPE and guard["type"] == KEY_GUARD_TYPE:
            if not expired and existing["fingerprint"] != guard["fingerprint"]:
                raise ConflictError(
                    "This idempotency key was already used for a different request.",
                    code="idempotency_conflict",
                )
            if holder is not None and not expired:
                return _accepted(holder, created=False, with_content=existing["withContent"])
        elif holder is not None and not expired:
            raise ConflictError("A message with this eventId already exists.")
        if young and holder is None and not expired:
            # Its message is being written right now: wait for it (the caller polls).
            return None
        # Expired (the local server does not enforce `ttl`) or left by a create that died.
        with contextlib.suppress(EtagMismatchError):
            await self._store.delete(MESSAGES, pk, existing["id"], etag=etag(existing))
        return None

    async def _read_guard(self, pk: PartitionKey, guard: Guard) -> Guard | None:
        if guard["type"] == KEY_GUARD_TYPE:
            return await queries.read(self._store, KEY_GUARD, pk, guard["id"])
        return await queries.read(self._store, EVENT_GUARD, pk, guard["id"])

    def _key_guard(
        self, message: MessageDoc, key: str, fingerprint: str, with_content: bool, now: datetime
    ) -> KeyGuardDoc:
        ttl = self._settings.idempotency_ttl_seconds
        return {
            "id": key_guard_id(key),
            "type": KEY_GUARD_TYPE,
            "tenantId": message["tenantId"],
            "appId": message["appId"],
            "msgId": message["id"],
            "fingerprint": fingerprint,
            "withContent": with_content,
            "createdAt": to_wire(now),
            "ttl": ttl,
            "expiresAt": to_wire(now + timedelta(seconds=ttl)),
        }

    def _event_guard(self, message: MessageDoc, event_id: str, now: datetime) -> EventGuardDoc:
        ttl = self._settings.event_id_ttl_seconds
        return {
            "id": event_guard_id(message["appId"], event_id),
            "type": EVENT_GUARD_TYPE,
            "tenantId": message["tenantId"],
            "appId": message["appId"],
            "eventId": event_id,
            "msgId": message["id"],
            "createdAt": to_wire(now),
            "ttl": ttl,
            "expiresAt": to_wire(now + timedelta(seconds=ttl)),
        }

    def _content_doc(self, message: MessageDoc, seconds: int, expires: str) -> ContentDoc:
        """The payload of a message that keeps it for less than itself: Cosmos deletes it at `ttl`."""
        content: ContentDoc = {
            "id": content_id(message["id"]),
            "type": CONTENT_TYPE,
            "tenantId": message["tenantId"],
            "appId": message["appId"],
            "msgId": message["id"],
            "payload": message.get("payload", {}),
            "ttl": seconds,
            "expiresAt": expires,
        }
        if "transformationsParams" in message:
            content["transformationsParams"] = message["transformationsParams"]
        return content

    def _check_payload_size(self, data: MessageIn) -> None:
        size = len(json.dumps(data.payload, separators=(",", ":"), ensure_ascii=False).encode())
        raw = data.transformations_params.raw_payload if data.transformations_params else None
        if raw is not None:
            # The raw payload is what is sent (the SDK's `message_in_raw` leaves `payload` empty).
            size += len(raw.encode())
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

    def _payload_retention_seconds(self, data: MessageIn) -> int | None:
        """How long the payload is kept when that is shorter than its message; None: as long."""
        if data.payload_retention_hours is not None:
            seconds = data.payload_retention_hours * 3600
        elif data.payload_retention_period is not None:
            seconds = data.payload_retention_period * 86400
        else:
            return None
        return seconds if seconds < self._settings.retention_days * 86400 else None
