"""Delivery attempts and message-endpoint statuses.

Attempts are an append-only log; the `destination` document of each message-endpoint pair is the
projection of that log that reads use (its status and next attempt). `record` appends an attempt,
then moves the projection with an ETag-guarded replace; the log is the truth the projection can
always be rebuilt from.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from shared import ids
from shared.clock import to_wire, utcnow
from shared.errors import NotFoundError, PreconditionFailedError, ValidationFailedError
from shared.models import (
    AttemptTrigger,
    EndpointMessageOut,
    MessageAttemptOut,
    MessageEndpointOut,
    MessageStatus,
)
from shared.pagination import ListParams, fetch_page
from shared.services import messages as message_docs
from shared.services.applications import ApplicationService
from shared.services.endpoints import EndpointService
from shared.services.endpoints import to_out as endpoint_out
from shared.services.messages import MessageService, destination_id, message_filters
from shared.store.base import ENDPOINTS, MESSAGES, Doc, DocumentStore, EtagMismatchError

ATTEMPT_TYPE = "attempt"
WithStatus = TypeVar("WithStatus", MessageEndpointOut, EndpointMessageOut)
MAX_RESPONSE_CHARS = 4096
PROJECTION_RETRIES = 5


@dataclass(frozen=True)
class AttemptResult:
    """What one delivery attempt observed."""

    url: str
    status_code: int
    response: str
    duration_ms: int
    status: MessageStatus
    trigger: AttemptTrigger = AttemptTrigger.SCHEDULED


def attempt_out(doc: Doc, message: Doc | None = None) -> MessageAttemptOut:
    status = MessageStatus(doc["status"])
    out = MessageAttemptOut.model_validate({**doc, "statusText": status.text})
    if message is not None:
        out = out.model_copy(update={"msg": message_docs.to_out(message)})
    return out


def _with_status(model: type[WithStatus], base: BaseModel, pair: Doc) -> WithStatus:
    """`base` (an endpoint or a message) with the delivery status of its message-endpoint pair."""
    status = MessageStatus(pair["status"])
    fields = {**base.model_dump(), "status": status, "status_text": status.text}
    return model.model_validate({**fields, "next_attempt": pair.get("nextAttempt")})


def _status_filter(alias: str, filters: Mapping[str, Any]) -> tuple[list[str], list[tuple[str, Any]]]:
    where, params = message_filters(alias, filters)
    if filters.get("status") is not None:
        try:
            status = MessageStatus(int(filters["status"]))
        except ValueError:
            raise ValidationFailedError.single(["query", "status"], "unknown status") from None
        where.append(f"{alias}.status = @status")
        params.append(("@status", int(status)))
    return where, params


class AttemptService:
    def __init__(
        self,
        store: DocumentStore,
        applications: ApplicationService,
        endpoints: EndpointService,
        messages: MessageService,
    ) -> None:
        self._store = store
        self._apps = applications
        self._endpoints = endpoints
        self._messages = messages

    async def record(
        self,
        message: Doc,
        endpoint_id: str,
        result: AttemptResult,
        *,
        next_attempt: datetime | None,
        pair_status: MessageStatus | None = None,
    ) -> Doc:
        """Appends an attempt, then moves the pair to `pair_status` (default: the attempt's status).

        A failed attempt with retries left leaves the pair `pending` with its next attempt time.
        """
        pk = [message["tenantId"], message["appId"]]
        attempt: Doc = {
            "id": ids.new_id(ids.ATTEMPT),
            "type": ATTEMPT_TYPE,
            "tenantId": message["tenantId"],
            "appId": message["appId"],
            "msgId": message["id"],
            "endpointId": endpoint_id,
            "url": result.url,
            "response": result.response[:MAX_RESPONSE_CHARS],
            "responseStatusCode": result.status_code,
            "responseDurationMs": result.duration_ms,
            "status": int(result.status),
            "triggerType": int(result.trigger),
            "timestamp": to_wire(utcnow()),
            "eventType": message["eventType"],
            "channels": message.get("channels"),
            "tags": message.get("tags"),
            "ttl": message["ttl"],
        }
        await self._store.create(MESSAGES, attempt)
        status = pair_status if pair_status is not None else result.status
        await self._project(
            pk, destination_id(message["id"], endpoint_id), attempt["timestamp"], status, next_attempt
        )
        return attempt

    async def cancel(self, message: Doc, endpoint_id: str) -> None:
        """Ends a pair without a request (its endpoint or application is gone or disabled)."""
        pk = [message["tenantId"], message["appId"]]
        pair_id = destination_id(message["id"], endpoint_id)
        await self._project(pk, pair_id, to_wire(utcnow()), MessageStatus.CANCELED, None)

    async def _project(
        self,
        pk: list[str],
        pair_id: str,
        moment: str,
        status: MessageStatus,
        next_attempt: datetime | None,
    ) -> None:
        """Moves the pair's status to what happened at `moment`, unless something later already did."""
        for _ in range(PROJECTION_RETRIES):
            pair = await self._store.read(MESSAGES, pk, pair_id)
            if pair is None or pair.get("lastAttemptAt", "") > moment:
                return
            projected = {
                **pair,
                "status": int(status),
                "lastAttemptAt": moment,
                "nextAttempt": to_wire(next_attempt) if next_attempt else None,
                "updatedAt": moment,
            }
            try:
                await self._store.replace(MESSAGES, projected, etag=pair["_etag"])
                return
            except EtagMismatchError:
                continue
        raise PreconditionFailedError("The delivery status changed meanwhile; retry.")

    async def get(
        self, tenant_id: str, app_id_or_uid: str, msg_id: str, attempt_id: str
    ) -> MessageAttemptOut:
        app = await self._apps.get(tenant_id, app_id_or_uid)
        doc = await self._store.read(MESSAGES, [tenant_id, app["id"]], attempt_id)
        if doc is None or doc.get("type") != ATTEMPT_TYPE or doc["msgId"] != msg_id:
            raise NotFoundError("Message attempt not found.")
        return attempt_out(doc)

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
        where, parameters = _status_filter("c", filters)
        return await self._attempt_page(
            tenant_id,
            app["id"],
            ["c.endpointId = @ep", *where],
            [("@ep", endpoint["id"]), *parameters],
            params,
            with_msg=bool(filters.get("with_msg")),
        )

    async def list_by_msg(
        self,
        tenant_id: str,
        app_id_or_uid: str,
        msg_id: str,
        params: ListParams,
        filters: Mapping[str, Any],
    ) -> dict[str, Any]:
        message = await self._messages.get(tenant_id, app_id_or_uid, msg_id)
        where, parameters = _status_filter("c", filters)
        if filters.get("endpoint_id"):
            where.append("c.endpointId = @ep")
            parameters.append(("@ep", filters["endpoint_id"]))
        return await self._attempt_page(
            tenant_id, message["appId"], ["c.msgId = @msg", *where], [("@msg", msg_id), *parameters], params
        )

    async def list_destinations(
        self, tenant_id: str, app_id_or_uid: str, msg_id: str, params: ListParams
    ) -> dict[str, Any]:
        """The endpoints a message was sent to, each with the pair's status."""
        message = await self._messages.get(tenant_id, app_id_or_uid, msg_id)
        pk = [tenant_id, message["appId"]]
        page = await fetch_page(
            self._store,
            MESSAGES,
            pk,
            where="c.type = @type AND c.msgId = @msg",
            parameters=[("@type", message_docs.DESTINATION_TYPE), ("@msg", msg_id)],
            params=params,
            key="endpointId",
        )
        endpoints = await self._by_ids(ENDPOINTS, pk, [pair["endpointId"] for pair in page.items])
        data = []
        for pair in page.items:
            endpoint = endpoints.get(pair["endpointId"])
            if endpoint is None:
                continue
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
        """The messages an endpoint was sent, newest first, each with the pair's status."""
        app = await self._apps.get(tenant_id, app_id_or_uid)
        endpoint = await self._endpoints.get(tenant_id, app["id"], endpoint_id_or_uid)
        pk = [tenant_id, app["id"]]
        where, parameters = _status_filter("c", filters)
        page = await fetch_page(
            self._store,
            MESSAGES,
            pk,
            where=" AND ".join(["c.type = @type", "c.endpointId = @ep", *where]),
            parameters=[("@type", message_docs.DESTINATION_TYPE), ("@ep", endpoint["id"]), *parameters],
            params=params,
            key="msgId",
        )
        messages = await self._by_ids(MESSAGES, pk, [pair["msgId"] for pair in page.items])
        with_content = bool(filters.get("with_content", True))
        data = []
        for pair in page.items:
            message = messages.get(pair["msgId"])
            if message is None:
                continue
            out = message_docs.to_out(message, with_content=with_content)
            data.append(_with_status(EndpointMessageOut, out, pair))
        return page.to_wire(data)

    async def _attempt_page(
        self,
        tenant_id: str,
        app_id: str,
        where: list[str],
        parameters: list[tuple[str, Any]],
        params: ListParams,
        *,
        with_msg: bool = False,
    ) -> dict[str, Any]:
        pk = [tenant_id, app_id]
        page = await fetch_page(
            self._store,
            MESSAGES,
            pk,
            where=" AND ".join(["c.type = @type", *where]),
            parameters=[("@type", ATTEMPT_TYPE), *parameters],
            params=params,
        )
        messages = await self._by_ids(MESSAGES, pk, [a["msgId"] for a in page.items]) if with_msg else {}
        return page.to_wire([attempt_out(doc, messages.get(doc["msgId"])) for doc in page.items])

    async def _by_ids(self, container: str, pk: list[str], doc_ids: list[str]) -> dict[str, Doc]:
        unique = sorted(set(doc_ids))
        docs = await asyncio.gather(*(self._store.read(container, pk, doc_id) for doc_id in unique))
        return {doc["id"]: doc for doc in docs if doc is not None}
