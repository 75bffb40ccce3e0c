"""Delivery attempts and message-endpoint statuses.

Attempts are an append-only log; the `destination` document of each message-endpoint pair is the
projection of that log that reads use (its status and next attempt). `record` appends an attempt,
then moves the projection with an ETag-guarded replace; the log is the truth the projection can
always be rebuilt from.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, TypeVar

from pydantic import BaseModel

from shared.clock import from_wire, to_wire, utcnow
from shared.delivery.sender import AttemptResult
from shared.errors import NotFoundError, PreconditionFailedError, ValidationFailedError
from shared.models import (
    AttemptTrigger,
    EndpointMessageOut,
    MessageAttemptOut,
    MessageEndpointOut,
    MessageStatus,
)
from shared.pagination import ListParams, Page, page_of_keys
from shared.services import messages as message_docs
from shared.services.applications import ApplicationService
from shared.services.endpoints import EndpointService
from shared.services.endpoints import to_out as endpoint_out
from shared.services.messages import MessageService, message_filter
from shared.store import queries
from shared.store.base import (
    MESSAGES,
    BatchFailedError,
    DocumentExistsError,
    DocumentStore,
    EtagMismatchError,
)
from shared.store.joined import BATCH_LIMIT, JoinedBatches
from shared.store.queries import AttemptFilter
from shared.store.schema import (
    ATTEMPT,
    ATTEMPT_TYPE,
    DESTINATION,
    DESTINATION_TYPE,
    DISPATCHED_TYPE,
    ENDPOINT_TYPE,
    MESSAGE,
    AttemptDoc,
    DestinationDoc,
    DispatchMarkerDoc,
    MessageDoc,
    UnsentMessage,
    app_key,
    destination_id,
    dispatch_marker_id,
    endpoint_kind,
    etag,
    key_of,
    new_attempt_id,
)

WithStatus = TypeVar("WithStatus", MessageEndpointOut, EndpointMessageOut)
MAX_RESPONSE_CHARS = 4096
# What an expunged attempt's response reads (Svix's word).
EXPUNGED = "EXPUNGED"
PROJECTION_RETRIES = 5


@dataclass(frozen=True)
class DestinationUpdate:
    """What a round writes for one destination: its status after the attempt, and the attempt."""

    endpoint_id: str
    status: MessageStatus
    next_attempt: datetime | None
    # The attempt's log entry; None when no request went out (canceled, open circuit).
    attempt: AttemptDoc | None


class PairStatus(TypedDict):
    """What a list shows of a message-endpoint pair: a `DestinationDoc`, or a pending stand-in."""

    status: int
    nextAttempt: str | None


def destination_doc(
    message: MessageDoc, endpoint_id: str, status: MessageStatus, moment: str, next_attempt: datetime | None
) -> DestinationDoc:
    """A message-endpoint pair's status document: the projection of its attempts."""
    return {
        "id": destination_id(message["id"], endpoint_id),
        "type": DESTINATION_TYPE,
        "tenantId": message["tenantId"],
        "appId": message["appId"],
        "msgId": message["id"],
        "endpointId": endpoint_id,
        "status": int(status),
        "lastAttemptAt": moment,
        "nextAttempt": to_wire(next_attempt) if next_attempt else None,
        "eventType": message["eventType"],
        "channels": message.get("channels"),
        "tags": message.get("tags"),
        "timestamp": message["timestamp"],
        "updatedAt": moment,
        "ttl": message["ttl"],
    }


def dispatch_marker(message: UnsentMessage) -> DispatchMarkerDoc:
    """Written with a message's first round: the sweeper resends messages that lack one."""
    return {
        "id": dispatch_marker_id(message["id"]),
        "type": DISPATCHED_TYPE,
        "tenantId": message["tenantId"],
        "appId": message["appId"],
        "msgId": message["id"],
        "timestamp": message["timestamp"],
        "ttl": message["ttl"],
    }


# What an attempt's `response` reads when the caller asked for no content (Svix's answer).
NO_CONTENT = "{}"
# Svix's `status_code_class` values: 0 is "no answer" (a timeout, a refused connection).
STATUS_CODE_CLASSES = (0, 100, 200, 300, 400, 500)


def attempt_out(
    doc: AttemptDoc, message: MessageDoc | None = None, *, with_content: bool = True
) -> MessageAttemptOut:
    """An attempt as Svix answers it; `message` embeds its message, never with the payload."""
    status = MessageStatus(doc["status"])
    fields: dict[str, Any] = {**doc, "statusText": status.text}
    if not with_content:
        fields["response"] = NO_CONTENT
    out = MessageAttemptOut.model_validate(fields)
    if message is not None:
        out = out.model_copy(update={"msg": message_docs.to_out(message, with_content=False)})
    return out


def _with_status[WithStatus: (MessageEndpointOut, EndpointMessageOut)](
    model: type[WithStatus], base: BaseModel, pair: PairStatus, *, expanded: bool = True
) -> WithStatus:
    """`base` (an endpoint or a message) with the delivery status of its message-endpoint pair.

    Without `expanded` (Svix's `expanded_statuses=false`, its default for callers other than its
    SDKs) a canceled pair reads as a success, as it did before Svix had the status.
    """
    status = MessageStatus(pair["status"])
    if not expanded and status == MessageStatus.CANCELED:
        status = MessageStatus.SUCCESS
    fields = {**base.model_dump(), "status": status, "status_text": status.text}
    return model.model_validate({**fields, "next_attempt": pair.get("nextAttempt")})


def _wanted_status(filters: Mapping[str, Any]) -> MessageStatus | None:
    if filters.get("status") is None:
        return None
    try:
        return MessageStatus(int(filters["status"]))
    except ValueError:
        raise ValidationFailedError.single(["query", "status"], "unknown status") from None


def _wanted_statuses(filters: Mapping[str, Any]) -> list[int] | None:
    """The stored statuses a `status` filter matches: what reads as that status to the caller."""
    status = _wanted_status(filters)
    if status is None:
        return None
    if status == MessageStatus.SUCCESS and not filters.get("expanded_statuses", True):
        return [int(MessageStatus.SUCCESS), int(MessageStatus.CANCELED)]
    return [int(status)]


def _code_class(filters: Mapping[str, Any]) -> int | None:
    raw = filters.get("status_code_class")
    if raw is None or raw == "":
        return None
    try:
        code_class = int(raw)
    except ValueError:
        code_class = -1
    if code_class not in STATUS_CODE_CLASSES:
        raise ValidationFailedError.single(
            ["query", "status_code_class"], "status_code_class must be one of 0, 100, 200, 300, 400, 500"
        )
    return code_class


def _attempt_filter(
    filters: Mapping[str, Any], *, msg_id: str | None = None, endpoint_id: str | None = None
) -> AttemptFilter:
    statuses = _wanted_statuses(filters)
    return AttemptFilter(
        messages=message_filter(filters),
        msg_id=msg_id,
        endpoint_id=endpoint_id,
        statuses=tuple(statuses) if statuses is not None else None,
        code_class=_code_class(filters),
    )


def _not_yet_attempted(message: MessageDoc) -> PairStatus:
    """The status of a pair whose first attempt has not been written: pending."""
    return {
        "status": int(MessageStatus.PENDING),
        "nextAttempt": message.get("deliverAt") or message["timestamp"],
    }


class AttemptService:
    def __init__(
        self,
        store: DocumentStore,
        applications: ApplicationService,
        endpoints: EndpointService,
        messages: MessageService,
        batches: JoinedBatches | None = None,
    ) -> None:
        self._store = store
        self._apps = applications
        self._endpoints = endpoints
        self._messages = messages
        # Rounds of one application finishing together share a batch (see store/joined.py).
        self._batches = batches or JoinedBatches(store)

    def attempt_doc(
        self,
        message: MessageDoc,
        endpoint_id: str,
        result: AttemptResult,
        *,
        url: str,
        trigger: AttemptTrigger = AttemptTrigger.SCHEDULED,
    ) -> AttemptDoc:
        """An attempt to `url` as the log stores it (the caller writes it, alone or in a batch)."""
        return {
            "id": new_attempt_id(),
            "type": ATTEMPT_TYPE,
            "tenantId": message["tenantId"],
            "appId": message["appId"],
            "msgId": message["id"],
            "endpointId": endpoint_id,
            "url": url,
            # Without an answer, why none came (a timeout, a refused address).
            "response": (result.response if result.error is None else result.error)[:MAX_RESPONSE_CHARS],
            "responseStatusCode": result.status_code,
            "responseDurationMs": result.duration_ms,
            "status": int(MessageStatus.SUCCESS if result.success else MessageStatus.FAIL),
            "triggerType": int(trigger),
            "timestamp": to_wire(utcnow()),
            "eventType": message["eventType"],
            "channels": message.get("channels"),
            "tags": message.get("tags"),
            "ttl": message["ttl"],
        }

    async def record(
        self,
        message: MessageDoc,
        endpoint_id: str,
        result: AttemptResult,
        *,
        url: str,
        trigger: AttemptTrigger = AttemptTrigger.SCHEDULED,
        next_attempt: datetime | None,
        pair_status: MessageStatus | None = None,
    ) -> AttemptDoc:
        """Appends an attempt, then moves the pair to `pair_status` (default: the attempt's status).

        A failed attempt with retries left leaves the pair `pending` with its next attempt time.
        """
        attempt = self.attempt_doc(message, endpoint_id, result, url=url, trigger=trigger)
        status = pair_status if pair_status is not None else MessageStatus(attempt["status"])
        await self.record_attempt(message, attempt, status=status, next_attempt=next_attempt)
        return attempt

    async def record_attempt(
        self,
        message: MessageDoc,
        attempt: AttemptDoc,
        *,
        status: MessageStatus,
        next_attempt: datetime | None,
    ) -> None:
        """Appends a prepared attempt (from `attempt_doc`) and moves its pair to `status`."""
        await self._store.create(MESSAGES, attempt)
        await self._project(message, attempt["endpointId"], attempt["timestamp"], status, next_attempt)

    async def record_round(self, message: MessageDoc, updates: Sequence[DestinationUpdate]) -> None:
        """The first round of a message in as few requests as possible: batches of creates.

        Each pair's attempt (when a request went out) and its `destination` document, plus the
        message's dispatch marker (which tells the sweeper this message was sent). Under load,
        rounds of one application share batches: a round costs a fraction of a request.
        """
        docs: list[AttemptDoc | DestinationDoc | DispatchMarkerDoc] = []
        for update in updates:
            if update.attempt is not None:
                docs.append(update.attempt)
            moment = update.attempt["timestamp"] if update.attempt else to_wire(utcnow())
            docs.append(
                destination_doc(message, update.endpoint_id, update.status, moment, update.next_attempt)
            )
        docs.append(dispatch_marker(message))
        pk = key_of(message)
        for start in range(0, len(docs), BATCH_LIMIT):
            chunk = docs[start : start + BATCH_LIMIT]
            try:
                await self._batches.create_batch(MESSAGES, pk, chunk)
            except BatchFailedError:
                # Something of this round already exists (a retry or the sweeper raced it):
                # fall back to one write at a time, each safe to repeat.
                await self._write_one_by_one(message, chunk)

    async def mark_dispatched(self, message: UnsentMessage) -> None:
        with contextlib.suppress(DocumentExistsError):
            await self._store.create(MESSAGES, dispatch_marker(message))

    async def cancel(self, message: MessageDoc, endpoint_id: str) -> None:
        """Ends a pair without a request (its endpoint or application is gone or disabled)."""
        await self._project(message, endpoint_id, to_wire(utcnow()), MessageStatus.CANCELED, None)

    async def _write_one_by_one(
        self, message: MessageDoc, docs: Sequence[AttemptDoc | DestinationDoc | DispatchMarkerDoc]
    ) -> None:
        for doc in docs:
            if doc["type"] == DESTINATION_TYPE:
                next_attempt = from_wire(due) if (due := doc.get("nextAttempt")) else None
                status = MessageStatus(doc["status"])
                await self._project(message, doc["endpointId"], doc["lastAttemptAt"], status, next_attempt)
            else:
                with contextlib.suppress(DocumentExistsError):
                    await self._store.create(MESSAGES, doc)

    async def _project(
        self,
        message: MessageDoc,
        endpoint_id: str,
        moment: str,
        status: MessageStatus,
        next_attempt: datetime | None,
    ) -> None:
        """Moves the pair's status to what happened at `moment`, unless something later already did."""
        pk = key_of(message)
        pair_id = destination_id(message["id"], endpoint_id)
        for _ in range(PROJECTION_RETRIES):
            pair = await queries.read(self._store, DESTINATION, pk, pair_id)
            if pair is None:
                try:
                    await self._store.create(
                        MESSAGES, destination_doc(message, endpoint_id, status, moment, next_attempt)
                    )
                    return
                except DocumentExistsError:
                    continue
            if pair.get("lastAttemptAt", "") > moment:
                return
            projected: DestinationDoc = {
                **pair,
                "status": int(status),
                "lastAttemptAt": moment,
                "nextAttempt": to_wire(next_attempt) if next_attempt else None,
                "updatedAt": moment,
            }
            try:
                await self._store.replace(MESSAGES, projected, etag=etag(pair))
                return
            except EtagMismatchError:
                continue
        raise PreconditionFailedError("The delivery status changed meanwhile; retry.")

    async def get(
        self, tenant_id: str, app_id_or_uid: str, msg_id_or_event_id: str, attempt_id: str
    ) -> MessageAttemptOut:
        return attempt_out(await self._attempt_of(tenant_id, app_id_or_uid, msg_id_or_event_id, attempt_id))

    async def expunge_content(
        self, tenant_id: str, app_id_or_uid: str, msg_id_or_event_id: str, attempt_id: str
    ) -> None:
        """Replaces an attempt's response body with "EXPUNGED", as Svix does.

        :raises NotFoundError: no such application, message or attempt of it.
        """
        doc = await self._attempt_of(tenant_id, app_id_or_uid, msg_id_or_event_id, attempt_id)
        await self._store.patch(
            MESSAGES, key_of(doc), doc["id"], [{"op": "set", "path": "/response", "value": EXPUNGED}]
        )

    async def _attempt_of(
        self, tenant_id: str, app_id_or_uid: str, msg_id_or_event_id: str, attempt_id: str
    ) -> AttemptDoc:
        """The attempt, if it belongs to the message the path names (by id, else by eventId)."""
        app = await self._apps.get(tenant_id, app_id_or_uid)
        doc = await queries.read(self._store, ATTEMPT, app_key(tenant_id, app["id"]), attempt_id)
        if doc is None:
            raise NotFoundError("Message attempt not found.")
        if doc["msgId"] != msg_id_or_event_id:
            message = await self._messages.find(tenant_id, app["id"], msg_id_or_event_id)
            if message is None or message["id"] != doc["msgId"]:
                raise NotFoundError("Message attempt not found.")
        return doc

    async def list_by_endpoint(
        self,
        tenant_id: str,
        app_id_or_uid: str,
        endpoint_id_or_uid: str,
        params: ListParams,
        filters: Mapping[str, Any],
    ) -> dict[str, Any]:
        app = await self._apps.get(tenant_id, app_id_or_uid)
        endpoint = await self._endpoints.get(tenant_id, app["id"], endpoint_id_or_uid)
        wanted = _attempt_filter(filters, endpoint_id=endpoint["id"])
        return await self._attempt_page(tenant_id, app["id"], wanted, params, filters)

    async def list_by_msg(
        self,
        tenant_id: str,
        app_id_or_uid: str,
        msg_id: str,
        params: ListParams,
        filters: Mapping[str, Any],
    ) -> dict[str, Any]:
        message = await self._messages.get(tenant_id, app_id_or_uid, msg_id, content=False)
        endpoint_id = None
        if filters.get("endpoint_id"):
            # By id or uid, as in Svix: an endpoint the application does not have is a 404.
            endpoint = await self._endpoints.get(tenant_id, message["appId"], str(filters["endpoint_id"]))
            endpoint_id = endpoint["id"]
        wanted = _attempt_filter(filters, msg_id=message["id"], endpoint_id=endpoint_id)
        return await self._attempt_page(tenant_id, message["appId"], wanted, params, filters)

    async def list_destinations(
        self, tenant_id: str, app_id_or_uid: str, msg_id: str, params: ListParams
    ) -> dict[str, Any]:
        """The endpoints a message was sent to, each with the pair's status."""
        message = await self._messages.get(tenant_id, app_id_or_uid, msg_id, content=False)
        pk = key_of(message)
        chosen, page = page_of_keys(message.get("endpointIds", []), params)
        pair_ids = [destination_id(message["id"], endpoint_id) for endpoint_id in chosen]
        endpoints, pairs = await asyncio.gather(
            queries.read_each(self._store, endpoint_kind(ENDPOINT_TYPE), pk, chosen),
            queries.read_each(self._store, DESTINATION, pk, pair_ids),
        )
        data = []
        for endpoint_id, pair_id in zip(chosen, pair_ids, strict=True):
            endpoint = endpoints.get(endpoint_id)
            if endpoint is not None:
                pair: PairStatus = pairs.get(pair_id) or _not_yet_attempted(message)
                data.append(_with_status(MessageEndpointOut, endpoint_out(endpoint), pair))
        return page.to_wire(data)

    async def list_messages_of_endpoint(
        self,
        tenant_id: str,
        app_id_or_uid: str,
        endpoint_id_or_uid: str,
        params: ListParams,
        filters: Mapping[str, Any],
    ) -> dict[str, Any]:
        """The messages an endpoint was sent, newest first, each with the pair's status.

        Unfiltered, every message the endpoint was chosen for, a pair whose first attempt is not
        recorded yet reading `pending`. With `status`, the query runs on the pairs' status
        documents, so each page is full unless it is the last: a pair matches once its status is
        recorded (after its first attempt, or at once for a message scheduled with `deliverAt`).
        """
        app = await self._apps.get(tenant_id, app_id_or_uid)
        endpoint = await self._endpoints.get(tenant_id, app["id"], endpoint_id_or_uid)
        page: Page[MessageDoc] | Page[DestinationDoc]
        statuses = _wanted_statuses(filters)
        if statuses is None:
            page, messages, pairs = await self._pairs_by_message(
                tenant_id, app["id"], endpoint["id"], params, filters
            )
        else:
            page, messages, pairs = await self._pairs_by_status(
                tenant_id, app["id"], endpoint["id"], statuses, params, filters
            )
        with_content = bool(filters.get("with_content", True))
        expanded = bool(filters.get("expanded_statuses", True))
        if with_content:
            messages = await message_docs.with_contents(self._store, messages)
        data = [
            _with_status(
                EndpointMessageOut,
                message_docs.to_out(message, with_content=with_content),
                pair,
                expanded=expanded,
            )
            for message, pair in zip(messages, pairs, strict=True)
        ]
        return page.to_wire(data)

    async def _pairs_by_message(
        self, tenant_id: str, app_id: str, endpoint_id: str, params: ListParams, filters: Mapping[str, Any]
    ) -> tuple[Page[MessageDoc], list[MessageDoc], list[PairStatus]]:
        """A page of the messages the endpoint was chosen for, and their pairs' statuses."""
        page = await queries.messages_for_endpoint_page(
            self._store, tenant_id, app_id, endpoint_id, params, message_filter(filters)
        )
        pair_ids = [destination_id(message["id"], endpoint_id) for message in page.items]
        pairs = await queries.read_each(self._store, DESTINATION, app_key(tenant_id, app_id), pair_ids)
        return (
            page,
            page.items,
            [
                pairs.get(pair_id) or _not_yet_attempted(message)
                for message, pair_id in zip(page.items, pair_ids, strict=True)
            ],
        )

    async def _pairs_by_status(
        self,
        tenant_id: str,
        app_id: str,
        endpoint_id: str,
        statuses: list[int],
        params: ListParams,
        filters: Mapping[str, Any],
    ) -> tuple[Page[DestinationDoc], list[MessageDoc], list[PairStatus]]:
        """A page of an endpoint's pairs in `statuses`, keyed by message id like the unfiltered list
        (a pair's status document carries its message's type, channels, tags and timestamp), and
        their messages."""
        page = await queries.destinations_page(
            self._store, tenant_id, app_id, endpoint_id, statuses, params, message_filter(filters)
        )
        pk = app_key(tenant_id, app_id)
        messages = await queries.read_each(self._store, MESSAGE, pk, [pair["msgId"] for pair in page.items])
        # A pair shares its message's retention; one outliving it by moments is left out.
        kept = [pair for pair in page.items if pair["msgId"] in messages]
        return page, [messages[pair["msgId"]] for pair in kept], [*kept]

    async def _attempt_page(
        self,
        tenant_id: str,
        app_id: str,
        wanted: AttemptFilter,
        params: ListParams,
        filters: Mapping[str, Any],
    ) -> dict[str, Any]:
        page = await queries.attempts_page(self._store, tenant_id, app_id, params, wanted)
        with_msg = bool(filters.get("with_msg"))
        with_content = bool(filters.get("with_content", True))
        messages = (
            await queries.read_each(
                self._store, MESSAGE, app_key(tenant_id, app_id), [a["msgId"] for a in page.items]
            )
            if with_msg
            else {}
        )
        return page.to_wire(
            [attempt_out(doc, messages.get(doc["msgId"]), with_content=with_content) for doc in page.items]
        )
