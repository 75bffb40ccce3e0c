"""Delivery: the first attempt to every endpoint of a message, and each later attempt.

The first attempts run as soon as a message is stored, concurrently, without Durable Functions:
the happy path costs no orchestration. Each endpoint that fails gets a retry workflow (see
`blueprints/delivery.py`) whose activities call `attempt` here. Everything a workflow needs to
decide its next wait comes back from `attempt`, so the orchestrator itself stays deterministic.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any, Protocol

import aiohttp

from shared.clock import from_wire, to_wire, utcnow
from shared.delivery.schedule import Outcome, next_delay
from shared.delivery.sender import AttemptReport, Delivery, send
from shared.models import AttemptTrigger, MessageStatus
from shared.outbound import guarded_session
from shared.ratelimit import RateLimiter, wait_for_token
from shared.services.attempts import AttemptResult, AttemptService
from shared.services.breaker import CircuitBreaker
from shared.services.endpoints import EndpointService
from shared.services.messages import MESSAGE_TYPE, destination_id
from shared.settings import HeraldSettings
from shared.store.base import ENDPOINTS, MESSAGES, Doc, DocumentStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryJob:
    """The input of one retry workflow: one message to one endpoint."""

    tenant_id: str
    app_id: str
    msg_id: str
    endpoint_id: str
    # Attempts made so far, and the wait before the next one.
    attempts: int
    retry_in: float
    # Frozen at start, so a deploy that changes the settings cannot change a running workflow.
    schedule: list[int]
    floor_seconds: float

    @property
    def instance_id(self) -> str:
        """One workflow per message-endpoint pair: a duplicated dispatch cannot start a second."""
        return f"dlv~{self.tenant_id}~{self.app_id}~{destination_id(self.msg_id, self.endpoint_id)}"

    def to_input(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_input(cls, data: dict[str, Any]) -> RetryJob:
        return cls(**data)


@dataclass(frozen=True)
class AttemptOutcome:
    status: MessageStatus
    # Seconds until the next attempt; None when the pair is finished.
    retry_in: float | None
    # False when no request went out (open circuit): the attempt does not count.
    attempted: bool = True


class EventSink(Protocol):
    """Where operational events go (the tenant's operational webhooks)."""

    async def emit(self, tenant_id: str, event_type: str, data: dict[str, Any]) -> None: ...


class NoEvents:
    async def emit(self, tenant_id: str, event_type: str, data: dict[str, Any]) -> None:
        return None


def _event_data(message: Doc, endpoint: Doc, attempt: Doc) -> dict[str, Any]:
    """The data of Svix's message.attempt.* operational events."""
    return {
        "appId": message["appId"],
        "msgId": message["id"],
        "msgEventId": message.get("eventId"),
        "endpointId": endpoint["id"],
        "lastAttempt": {
            "id": attempt["id"],
            "timestamp": attempt["timestamp"],
            "responseStatusCode": attempt["responseStatusCode"],
        },
    }


class DeliveryService:
    def __init__(
        self,
        store: DocumentStore,
        settings: HeraldSettings,
        endpoints: EndpointService,
        attempts: AttemptService,
        limiter: RateLimiter,
        *,
        events: EventSink | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._endpoints = endpoints
        self._attempts = attempts
        self._limiter = limiter
        self._events: EventSink = events or NoEvents()
        self._breaker = CircuitBreaker(store, settings)
        self._session: aiohttp.ClientSession | None = None

    async def first_attempts(self, message: Doc) -> list[RetryJob]:
        """Attempts every endpoint of a new message once; returns the retry workflows to start."""
        targets = await self._targets(message)
        deliver_at = message.get("deliverAt")
        if deliver_at and from_wire(deliver_at) > utcnow():
            # Scheduled for later: a workflow's durable timer makes the first attempt.
            wait = (from_wire(deliver_at) - utcnow()).total_seconds()
            return [self._job(message, endpoint["id"], attempts=0, retry_in=wait) for endpoint in targets]
        outcomes = await asyncio.gather(
            *(self._attempt(message, endpoint, 1, AttemptTrigger.SCHEDULED) for endpoint in targets)
        )
        return [
            self._job(message, endpoint["id"], attempts=1, retry_in=outcome.retry_in)
            for endpoint, outcome in zip(targets, outcomes, strict=True)
            if outcome.retry_in is not None
        ]

    async def attempt(self, job: RetryJob) -> AttemptOutcome:
        """One scheduled attempt of a retry workflow (its activity)."""
        pk = [job.tenant_id, job.app_id]
        message = await self._store.read(MESSAGES, pk, job.msg_id)
        if message is None or message.get("type") != MESSAGE_TYPE:
            return AttemptOutcome(MessageStatus.CANCELED, None)
        endpoint = await self._store.read(ENDPOINTS, pk, job.endpoint_id)
        return await self._attempt(
            message,
            endpoint,
            job.attempts + 1,
            AttemptTrigger.SCHEDULED,
            schedule=job.schedule,
            floor_seconds=job.floor_seconds,
            endpoint_id=job.endpoint_id,
        )

    async def stale_pairs(self, *, limit: int = 200) -> list[RetryJob]:
        """Pairs stored but never attempted after the grace period: a dispatch that was lost.

        Their workflows (started with no wait) make the first attempt; pairs that already have a
        workflow (scheduled with deliverAt) keep theirs, because the instance id is the pair's.
        """
        cutoff = utcnow() - timedelta(seconds=self._settings.sweep_grace_seconds)
        rows = await self._store.query_across(
            MESSAGES,
            where="c.type = 'destination' AND c.status = @pending AND NOT IS_DEFINED(c.lastAttemptAt)"
            " AND c.timestamp < @cutoff",
            parameters=[("@pending", int(MessageStatus.PENDING)), ("@cutoff", to_wire(cutoff))],
            top=limit,
        )
        return [
            RetryJob(
                tenant_id=row["tenantId"],
                app_id=row["appId"],
                msg_id=row["msgId"],
                endpoint_id=row["endpointId"],
                attempts=0,
                retry_in=0,
                schedule=list(self._settings.retry_schedule),
                floor_seconds=self._settings.retry_floor_seconds,
            )
            for row in rows
        ]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _targets(self, message: Doc) -> list[Doc]:
        wanted = set(message.get("endpointIds", []))
        endpoints = await self._endpoints.list_all(message["tenantId"], message["appId"])
        return sorted((e for e in endpoints if e["id"] in wanted), key=lambda e: str(e["id"]))

    def _job(self, message: Doc, endpoint_id: str, *, attempts: int, retry_in: float) -> RetryJob:
        return RetryJob(
            tenant_id=message["tenantId"],
            app_id=message["appId"],
            msg_id=message["id"],
            endpoint_id=endpoint_id,
            attempts=attempts,
            retry_in=retry_in,
            schedule=list(self._settings.retry_schedule),
            floor_seconds=self._settings.retry_floor_seconds,
        )

    async def _attempt(
        self,
        message: Doc,
        endpoint: Doc | None,
        number: int,
        trigger: AttemptTrigger,
        *,
        schedule: list[int] | None = None,
        floor_seconds: float | None = None,
        endpoint_id: str | None = None,
    ) -> AttemptOutcome:
        if endpoint is None or endpoint.get("disabled"):
            # Deleted or disabled since: the pair is canceled, no request is made.
            await self._attempts.cancel(message, endpoint_id or (endpoint or {}).get("id", ""))
            return AttemptOutcome(MessageStatus.CANCELED, None)
        admission = await self._breaker.admit(endpoint)
        if not admission.allowed:
            # Open circuit: no request; the workflow tries again once a probe may go out.
            return AttemptOutcome(MessageStatus.PENDING, admission.retry_in, attempted=False)
        if endpoint.get("throttleRate"):
            rate = float(endpoint["throttleRate"])
            # Over the endpoint's rate the delivery waits; it is never dropped.
            await wait_for_token(self._limiter, f"ep:{endpoint['id']}", rate=rate, burst=max(1, int(rate)))
        delivery = await self._delivery(message, endpoint)
        report = await send(
            self._http(), delivery, self._settings, svix_headers=self._settings.delivery_svix_headers
        )
        retry_in = next_delay(
            schedule if schedule is not None else list(self._settings.retry_schedule),
            number,
            report.outcome,
            seed=destination_id(message["id"], endpoint["id"]),
            floor_seconds=floor_seconds if floor_seconds is not None else self._settings.retry_floor_seconds,
        )
        status = self._pair_status(report.outcome, retry_in)
        attempt = await self._attempts.record(
            message,
            endpoint["id"],
            self._result(endpoint["url"], report, trigger),
            next_attempt=utcnow() + timedelta(seconds=retry_in) if retry_in is not None else None,
            pair_status=status,
        )
        await self._after(message, endpoint, attempt, number, report.outcome, status)
        return AttemptOutcome(status, retry_in)

    async def _after(
        self, message: Doc, endpoint: Doc, attempt: Doc, number: int, outcome: Outcome, status: MessageStatus
    ) -> None:
        """The breaker, auto-disable and operational events that follow one attempt."""
        facts = _event_data(message, endpoint, attempt)
        tenant = message["tenantId"]
        if outcome.success:
            await self._breaker.succeeded(endpoint)
            if number > 1:
                await self._events.emit(tenant, "message.attempt.recovered", facts)
            return
        failure = await self._breaker.failed(endpoint)
        if number == self._settings.failing_event_after_attempts and status == MessageStatus.PENDING:
            await self._events.emit(tenant, "message.attempt.failing", facts)
        if status == MessageStatus.FAIL:
            await self._events.emit(tenant, "message.attempt.exhausted", facts)
        # 410 Gone asks never to be called again; long failure is Svix's automatic disable.
        must_disable = outcome.gone or failure.failing_for >= self._settings.auto_disable_after_seconds
        if must_disable and await self._endpoints.disable(endpoint):
            await self._events.emit(
                tenant,
                "endpoint.disabled",
                {
                    "appId": message["appId"],
                    "endpointId": endpoint["id"],
                    "endpointUid": endpoint.get("uid"),
                    "trigger": "automatic",
                    "failSince": attempt["timestamp"],
                },
            )

    @staticmethod
    def _pair_status(outcome: Outcome, retry_in: float | None) -> MessageStatus:
        if outcome.success:
            return MessageStatus.SUCCESS
        return MessageStatus.PENDING if retry_in is not None else MessageStatus.FAIL

    @staticmethod
    def _result(url: str, report: AttemptReport, trigger: AttemptTrigger) -> AttemptResult:
        return AttemptResult(
            url=url,
            status_code=report.status_code,
            response=report.response if report.error is None else report.error,
            duration_ms=report.duration_ms,
            status=MessageStatus.SUCCESS if report.outcome.success else MessageStatus.FAIL,
            trigger=trigger,
        )

    async def _delivery(self, message: Doc, endpoint: Doc) -> Delivery:
        # Compact JSON: these exact bytes are signed and sent, the same on every retry.
        body = json.dumps(message["payload"], separators=(",", ":"), ensure_ascii=False).encode()
        return Delivery(
            msg_id=message["id"],
            url=endpoint["url"],
            body=body,
            secrets=await self._endpoints.signing_secrets(endpoint),
            headers=endpoint.get("headers") or {},
        )

    def _http(self) -> aiohttp.ClientSession:
        # One pooled client per process, created inside the running loop on first use.
        if self._session is None or self._session.closed:
            self._session = guarded_session(self._settings)
        return self._session
