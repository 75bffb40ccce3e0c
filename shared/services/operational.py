"""Operational webhooks: each tenant's own endpoints for events about its deliveries (Svix's API).

An operational-webhook endpoint is an endpoint of the tenant rather than of an application, so it
is the same document an application's endpoint is (URL checked by the SSRF guard, `whsec_`
secrets sealed at rest, custom headers), served by the same `EndpointService` under a type of its
own, in the tenant's reserved partition `[tenantId, "_operational"]` of the `endpoints` container
(application ids all start with `app_`, so no application shares it).

`OperationalEvents.emit` sends an event, signed per Standard Webhooks, to every enabled endpoint
of the tenant that listens to its type. It is best effort: one retry at most, and it never raises
into the delivery it reports on. Changes to endpoints are announced in the background
(`endpoint_changed`): the API's answer does not wait for the tenant's receivers.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic_core import to_jsonable_python

from shared import ids
from shared.clock import to_wire, utcnow
from shared.delivery.lanes import OutboundLanes
from shared.delivery.sender import AttemptResult, WebhookRequest, send
from shared.models import (
    EndpointIn,
    EndpointUpdate,
    OperationalWebhookEndpointHeadersOut,
    OperationalWebhookEndpointIn,
    OperationalWebhookEndpointOut,
    OperationalWebhookEndpointUpsertIn,
)
from shared.outbound import GuardedClient
from shared.pagination import ListParams
from shared.services.applications import ApplicationService
from shared.services.endpoints import EndpointService
from shared.services.messages import matches
from shared.settings import HeraldSettings
from shared.store.schema import OPERATIONAL_APP, EndpointDoc

log = logging.getLogger(__name__)

# The events Herald emits, with Svix's names and data shapes.
EVENT_TYPES = (
    "message.attempt.exhausted",
    "message.attempt.failing",
    "message.attempt.recovered",
    "endpoint.created",
    "endpoint.updated",
    "endpoint.deleted",
    "endpoint.enabled",
    "endpoint.disabled",
    "background_task.finished",
)
# Operational events report on deliveries in flight: the one retry comes soon or not at all.
RETRY_DELAY_SECONDS = 1.0


def to_out(doc: EndpointDoc) -> OperationalWebhookEndpointOut:
    return OperationalWebhookEndpointOut.model_validate(doc)


async def _ready(data: dict[str, Any]) -> dict[str, Any]:
    return data


class OperationalEndpointService:
    """A tenant's operational-webhook endpoints, on the endpoint logic applications use."""

    def __init__(self, endpoints: EndpointService) -> None:
        # Built with kind=OPERATIONAL_ENDPOINT_TYPE: it sees operational endpoints only.
        self._endpoints = endpoints

    async def list_page(self, tenant_id: str, params: ListParams) -> dict[str, Any]:
        page = await self._endpoints.list_page(tenant_id, OPERATIONAL_APP, params)
        return {**page, "data": [to_out(endpoint.model_dump()) for endpoint in page["data"]]}

    async def create(
        self, tenant_id: str, data: OperationalWebhookEndpointIn, *, seed: str | None = None
    ) -> EndpointDoc:
        fields = EndpointIn.model_validate(data.model_dump(exclude_unset=True))
        return await self._endpoints.create(tenant_id, OPERATIONAL_APP, fields, seed=seed)

    async def get(self, tenant_id: str, id_or_uid: str) -> EndpointDoc:
        return await self._endpoints.get(tenant_id, OPERATIONAL_APP, id_or_uid)

    async def upsert(
        self, tenant_id: str, id_or_uid: str, data: OperationalWebhookEndpointUpsertIn
    ) -> tuple[EndpointDoc, bool]:
        """PUT: replaces the endpoint's settings, or creates it when absent; True when created."""
        fields = EndpointUpdate.model_validate(data.model_dump(exclude_unset=True))
        return await self._endpoints.update(tenant_id, OPERATIONAL_APP, id_or_uid, fields)

    async def delete(self, tenant_id: str, id_or_uid: str) -> None:
        await self._endpoints.delete(tenant_id, OPERATIONAL_APP, id_or_uid)

    async def get_secret(self, tenant_id: str, id_or_uid: str) -> str:
        return await self._endpoints.get_secret(tenant_id, OPERATIONAL_APP, id_or_uid)

    async def rotate_secret(
        self, tenant_id: str, id_or_uid: str, key: str | None, grace_seconds: int | None
    ) -> None:
        await self._endpoints.rotate_secret(tenant_id, OPERATIONAL_APP, id_or_uid, key, grace_seconds)

    async def get_headers(self, tenant_id: str, id_or_uid: str) -> OperationalWebhookEndpointHeadersOut:
        # Only herald.admin reaches operational endpoints, and it may also set their headers.
        headers = await self._endpoints.get_headers(tenant_id, OPERATIONAL_APP, id_or_uid, with_values=True)
        return OperationalWebhookEndpointHeadersOut.model_validate(headers.model_dump())

    async def set_headers(self, tenant_id: str, id_or_uid: str, headers: dict[str, str]) -> None:
        await self._endpoints.set_headers(tenant_id, OPERATIONAL_APP, id_or_uid, headers, merge=False)

    async def subscribed(self, tenant_id: str, event_type: str) -> list[EndpointDoc]:
        """The tenant's enabled endpoints that listen to `event_type` (or to every type)."""
        endpoints = await self._endpoints.list_all(tenant_id, OPERATIONAL_APP)
        return [endpoint for endpoint in endpoints if matches(endpoint, event_type, None)]

    async def signing_secrets(self, endpoint: EndpointDoc) -> list[str]:
        return await self._endpoints.signing_secrets(endpoint)


class OperationalEvents:
    """Sends operational events to the tenant's operational-webhook endpoints."""

    def __init__(
        self,
        endpoints: OperationalEndpointService,
        settings: HeraldSettings,
        http: GuardedClient,
        applications: ApplicationService,
        lanes: OutboundLanes,
    ) -> None:
        self._endpoints = endpoints
        self._settings = settings
        self._http = http
        self._apps = applications
        # Announcements still being sent, kept referenced until they finish.
        self._in_flight: set[asyncio.Task[None]] = set()
        # The tenant's share of outbound requests, as its webhooks: a tenant whose operational
        # endpoints hang cannot hold other tenants' connections either.
        self._lanes = lanes

    async def emit(self, tenant_id: str, event_type: str, data: dict[str, Any]) -> None:
        """Sends `{type, timestamp, data}` to every matching endpoint; never raises."""
        await self._emit(tenant_id, event_type, lambda: _ready(data))

    def endpoint_changed(self, event_type: str, endpoint: EndpointDoc, extra: Mapping[str, Any]) -> None:
        """Announces a change to an application's endpoint in the background, with Svix's data
        (`appId`, `appUid`, `endpointId`, `endpointUid`, and `extra`)."""

        async def data() -> dict[str, Any]:
            # Read only when someone listens; the application is usually in this process's memory.
            app = await self._apps.find_recent(endpoint["tenantId"], endpoint["appId"])
            return {
                "appId": endpoint["appId"],
                "appUid": app.get("uid") if app else None,
                "endpointId": endpoint["id"],
                "endpointUid": endpoint.get("uid"),
                **extra,
            }

        task = asyncio.get_running_loop().create_task(self._emit(endpoint["tenantId"], event_type, data))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def drain(self) -> None:
        """Waits for the announcements still being sent (they never raise)."""
        await asyncio.gather(*self._in_flight)

    async def _emit(
        self, tenant_id: str, event_type: str, data: Callable[[], Awaitable[dict[str, Any]]]
    ) -> None:
        try:
            targets = await self._endpoints.subscribed(tenant_id, event_type)
            if not targets:
                return
            event = {"type": event_type, "timestamp": to_wire(utcnow()), "data": await data()}
            body = json.dumps(to_jsonable_python(event), separators=(",", ":"), ensure_ascii=False).encode()
            # One id for the event, on every endpoint and on the retry: receivers dedupe on it.
            event_id = ids.new_id(ids.MESSAGE)
            await asyncio.gather(
                *(self._deliver(event_type, event_id, body, endpoint) for endpoint in targets)
            )
        except Exception as exc:
            # The event is lost, the delivery it reports on is not: log what failed, never why in
            # detail (exception texts can carry URLs with credentials).
            log.warning(
                "operational event %s for tenant %s not sent: %s", event_type, tenant_id, type(exc).__name__
            )

    async def _deliver(self, event_type: str, event_id: str, body: bytes, endpoint: EndpointDoc) -> None:
        try:
            request = WebhookRequest(
                msg_id=event_id,
                url=endpoint["url"],
                body=body,
                secrets=await self._endpoints.signing_secrets(endpoint),
                headers=endpoint.get("headers") or {},
            )
            result = await self._send(endpoint["tenantId"], request)
            if not result.success:
                await asyncio.sleep(RETRY_DELAY_SECONDS)
                result = await self._send(endpoint["tenantId"], request)
        except Exception as exc:
            log.warning(
                "operational event %s to %s not sent: %s", event_type, endpoint["id"], type(exc).__name__
            )
            return
        if not result.success:
            log.warning(
                "operational event %s to %s failed twice: %s",
                event_type,
                endpoint["id"],
                result.error or f"HTTP {result.status_code}",
            )

    async def _send(self, tenant_id: str, request: WebhookRequest) -> AttemptResult:
        """One request; raises LaneBusyError when the tenant's share stays busy (the event is lost)."""
        async with self._lanes.slot(tenant_id, request.url, wait=self._settings.outbound_wait_seconds):
            return await send(
                self._http.session(),
                request,
                self._settings,
                svix_headers=self._settings.delivery_svix_headers,
            )
