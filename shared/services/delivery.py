"""Delivery: a message's first round (an attempt to each of its destinations), and each later attempt.

The first round runs as soon as a message is stored, concurrently, without Durable Functions: the
happy path costs no orchestration. Each destination it leaves pending gets a retry workflow
(`shared/services/dispatch.py` starts it, `blueprints/retries.py` runs it) whose activities call
`attempt` here. Everything a workflow needs to decide its next wait comes back in the attempt's
outcome, so the orchestrator itself stays deterministic.

Before a request goes out it must be let through: by the endpoint's circuit breaker, by its
throttle (`throttleRate`) and by the outbound lanes (the tenant's, the host's and the
process's share of the requests in flight, `shared/delivery/lanes.py`). An attempt not let through
is put off, never made and never counted against the endpoint: a scheduled one comes back with
the wait (the retry workflow sleeps it on a durable timer, never in an activity), a manual one
raises `OutboundBusyError`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import aiohttp

from shared import durable
from shared.clock import from_wire, utcnow
from shared.delivery.lanes import LaneBusyError, OutboundLanes, Slot
from shared.delivery.schedule import jittered, next_delay
from shared.delivery.sender import JSON_CONTENT_TYPE, AttemptResult, WebhookRequest, send
from shared.errors import OutboundBusyError, ServiceUnavailableError
from shared.models import AttemptTrigger, MessageStatus
from shared.outbound import guarded_session
from shared.ratelimit import RateLimiter, take_within
from shared.services.attempts import AttemptService, DestinationUpdate
from shared.services.breaker import CircuitBreaker
from shared.services.endpoints import EndpointService
from shared.services.messages import payload_gone, with_content
from shared.settings import HeraldSettings
from shared.store import queries
from shared.store.base import MESSAGES, DocumentStore
from shared.store.schema import (
    DESTINATION,
    ENDPOINT_TYPE,
    MESSAGE,
    AttemptDoc,
    EndpointDoc,
    MessageDoc,
    destination_id,
    endpoint_kind,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryJob:
    """The input of one retry workflow: one destination (a message to one endpoint)."""

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
    # The wait before the next attempt is for a throttle token reserved for it: it takes no other.
    reserved: bool = False

    @property
    def instance_id(self) -> str:
        """One workflow per destination: a duplicated dispatch cannot start a second."""
        return durable.instance_id("dlv", self.tenant_id, self.app_id, self.msg_id, self.endpoint_id)

    def to_input(self) -> durable.RetryInput:
        return durable.RetryInput(
            tenantId=self.tenant_id,
            appId=self.app_id,
            msgId=self.msg_id,
            endpointId=self.endpoint_id,
            attempts=self.attempts,
            retryIn=self.retry_in,
            schedule=list(self.schedule),
            floorSeconds=self.floor_seconds,
            reserved=self.reserved,
        )

    @classmethod
    def from_input(cls, recorded: durable.RetryInput) -> RetryJob:
        """The job of a workflow input, in either shape a history may hold (`durable.retry_input`)."""
        # Field by field: the workflow's input carries the trace context beside the job's fields.
        data = durable.retry_input(recorded)
        return cls(
            tenant_id=data["tenantId"],
            app_id=data["appId"],
            msg_id=data["msgId"],
            endpoint_id=data["endpointId"],
            attempts=data["attempts"],
            retry_in=data["retryIn"],
            schedule=data["schedule"],
            floor_seconds=data["floorSeconds"],
            reserved=data.get("reserved", False),
        )


@dataclass(frozen=True)
class AttemptOutcome:
    """What an attempt (made, put off or canceled) means for its destination; not yet written.

    The retry workflow gets the status, the wait and whether it counted (`to_reply`); the caller
    writes the attempt and the destination's status, then runs what follows it (breaker, events).
    """

    endpoint_id: str
    status: MessageStatus
    # Seconds until the next attempt; None when the destination is finished.
    retry_in: float | None
    # False when no request went out (open circuit, throttle, outbound share busy): the attempt
    # does not count.
    attempted: bool = True
    # The wait is for a throttle token reserved for the next attempt.
    reserved: bool = False
    # The endpoint as read for the attempt (None: deleted since).
    endpoint: EndpointDoc | None = None
    # The attempt's log entry and what its request observed; None when no request went out.
    attempt: AttemptDoc | None = None
    result: AttemptResult | None = None
    next_attempt: datetime | None = None

    def to_reply(self) -> durable.AttemptReply:
        reply = durable.AttemptReply(status=self.status.text, retryIn=self.retry_in, attempted=self.attempted)
        if self.reserved:
            # Only then: every other reply is what it was before reservations existed.
            reply["reserved"] = True
        return reply

    def as_update(self) -> DestinationUpdate:
        """What the round writes for this destination."""
        return DestinationUpdate(self.endpoint_id, self.status, self.next_attempt, self.attempt)


class _PutOff(Exception):
    """An attempt not let through (circuit, throttle, lanes): it waits `retry_in`, uncounted."""

    def __init__(self, retry_in: float, *, reserved: bool = False, why: str) -> None:
        super().__init__(why)
        self.retry_in = retry_in
        self.reserved = reserved
        self.why = why


@dataclass(frozen=True)
class Round:
    """A message's first round: the outcome of each destination's attempt, and the retry
    workflows to start for those it left pending."""

    jobs: list[RetryJob]
    outcomes: list[AttemptOutcome]


def _payload_bytes(message: MessageDoc) -> bytes:
    """Compact JSON, or the raw payload as sent: these exact bytes are signed and sent, the same
    on every retry."""
    raw = (message.get("transformationsParams") or {}).get("rawPayload")
    if isinstance(raw, str):
        return raw.encode()
    return json.dumps(message["payload"], separators=(",", ":"), ensure_ascii=False).encode()


def _content_type(message: MessageDoc) -> str:
    """A raw payload's own type (`transformationsParams.headers.content-type`), else JSON's."""
    params = message.get("transformationsParams") or {}
    if isinstance(params.get("rawPayload"), str):
        for name, value in (params.get("headers") or {}).items():
            if name.lower() == "content-type":
                return str(value)
    return JSON_CONTENT_TYPE


def _after_seconds(seconds: float | None) -> datetime | None:
    return utcnow() + timedelta(seconds=seconds) if seconds is not None else None


def _throttle_key(endpoint: EndpointDoc) -> str:
    return f"ep:{endpoint['id']}"


def _burst(rate: float) -> int:
    # A second's worth of requests at once, at least one.
    return max(1, int(rate))


class EventSink(Protocol):
    """Where operational events go (the tenant's operational webhooks)."""

    async def emit(self, tenant_id: str, event_type: str, data: dict[str, Any]) -> None: ...


class NoEvents:
    async def emit(self, tenant_id: str, event_type: str, data: dict[str, Any]) -> None:
        return None


def _event_data(message: MessageDoc, endpoint: EndpointDoc, attempt: AttemptDoc) -> dict[str, Any]:
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
        lanes: OutboundLanes | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._endpoints = endpoints
        self._attempts = attempts
        self._limiter = limiter
        self._events: EventSink = events or NoEvents()
        self._lanes = lanes or OutboundLanes.from_settings(settings)
        self._breaker = CircuitBreaker(store, settings)
        self._session: aiohttp.ClientSession | None = None

    async def first_round(self, message: MessageDoc, endpoints: Sequence[EndpointDoc] = ()) -> Round:
        """Attempts every destination of a new message once; returns the retry workflows to start.

        The whole round is written at the end in one batch (attempts, destination statuses and
        the message's dispatch marker), so a message sent costs one write however many endpoints.
        What follows the attempts (breaker, events) is left to `after_first_round`, which the
        caller runs once the retry workflows have started: the window in which a crash leaves a
        failed destination without its workflow stays as short as the start itself (and the sweeper
        closes it). `endpoints` are the message's endpoints as read when it was accepted.
        """
        wanted = set(message.get("endpointIds", []))
        targets = [e for e in endpoints if e["id"] in wanted] if endpoints else await self._targets(message)
        deliver_at = message.get("deliverAt")
        if deliver_at and from_wire(deliver_at) > utcnow():
            # Scheduled for later: a workflow's durable timer makes the first attempt. The
            # destinations are written pending until then, so the sweeper can tell if that
            # workflow is lost.
            when = from_wire(deliver_at)
            await self._attempts.record_round(
                message, [DestinationUpdate(e["id"], MessageStatus.PENDING, when, None) for e in targets]
            )
            wait = (when - utcnow()).total_seconds()
            return Round([self._job(message, e["id"], attempts=0, retry_in=wait) for e in targets], [])
        # One message, one body: serialized once however many endpoints it goes to.
        body = _payload_bytes(message)
        # A first attempt waits for a slot here, in the background, holding no activity: a
        # tenant's brief rush queues in memory instead of turning into retry workflows.
        first_wait = self._settings.outbound_first_wait_seconds
        outcomes = await asyncio.gather(*(self._first_attempt(message, e, body, first_wait) for e in targets))
        await self._attempts.record_round(message, [outcome.as_update() for outcome in outcomes])
        jobs = [
            self._job(
                message,
                outcome.endpoint_id,
                attempts=1 if outcome.attempted else 0,
                retry_in=outcome.retry_in,
                reserved=outcome.reserved,
            )
            for outcome in outcomes
            if outcome.retry_in is not None
        ]
        return Round(jobs, list(outcomes))

    async def _first_attempt(
        self, message: MessageDoc, endpoint: EndpointDoc, body: bytes, slot_wait: float
    ) -> AttemptOutcome:
        """One destination's first attempt; what goes wrong for one destination stays with it.

        `send` never raises (a failed send is a failed attempt), so an exception here came before
        any request (its secrets could not be opened, say): it is put off, not attempted,
        and its workflow tries after the floor. Raising instead would abort the whole round, and
        the sweeper would send the siblings again.
        """
        try:
            return await self._execute(
                message, endpoint, endpoint["id"], 1, AttemptTrigger.SCHEDULED, body=body, slot_wait=slot_wait
            )
        except Exception as exc:
            log.warning(
                "a first attempt could not be made (%s); it is put off",
                type(exc).__name__,
                extra={"endpoint_id": endpoint["id"]},
            )
            wait = self._settings.retry_floor_seconds
            return AttemptOutcome(
                endpoint["id"],
                MessageStatus.PENDING,
                wait,
                attempted=False,
                endpoint=endpoint,
                next_attempt=_after_seconds(wait),
            )

    async def after_first_round(self, message: MessageDoc, first: Round) -> None:
        """The breaker, auto-disable and operational events of a first round."""
        for outcome in first.outcomes:
            await self._after(message, outcome, 1)

    async def attempt(self, job: RetryJob) -> AttemptOutcome:
        """One scheduled attempt of a retry workflow (its activity).

        A store outage does not fail the workflow: the attempt is put off (it does not count)
        and the workflow waits the floor before trying again. Had the request gone out before
        the store failed, the receiver sees it twice, which at-least-once delivery allows.
        """
        try:
            return await self._attempt(job)
        except ServiceUnavailableError:
            log.warning("a retry met a store outage; it is put off", extra={"endpoint_id": job.endpoint_id})
            return AttemptOutcome(job.endpoint_id, MessageStatus.PENDING, job.floor_seconds, attempted=False)

    async def _attempt(self, job: RetryJob) -> AttemptOutcome:
        pk = [job.tenant_id, job.app_id]
        message = await queries.read(self._store, MESSAGE, pk, job.msg_id)
        doc_id = destination_id(job.msg_id, job.endpoint_id)
        if message is None:
            # The message is gone (retention): its destination goes too, so no sweep finds it pending.
            await self._store.delete(MESSAGES, pk, doc_id)
            return AttemptOutcome(job.endpoint_id, MessageStatus.CANCELED, None)
        destination = await queries.read(self._store, DESTINATION, pk, doc_id)
        if destination is not None and destination["status"] == MessageStatus.SUCCESS:
            # Delivered meanwhile (a manual resend, a recovery): nothing left to retry.
            return AttemptOutcome(job.endpoint_id, MessageStatus.SUCCESS, None, attempted=False)
        message = await with_content(self._store, message)
        if payload_gone(message):
            # Expunged or expired: there is nothing to send (as in Svix), so the destination ends here.
            await self._attempts.cancel(message, job.endpoint_id)
            return AttemptOutcome(job.endpoint_id, MessageStatus.CANCELED, None, attempted=False)
        endpoint = await queries.read(self._store, endpoint_kind(ENDPOINT_TYPE), pk, job.endpoint_id)
        outcome = await self._execute(
            message,
            endpoint,
            job.endpoint_id,
            job.attempts + 1,
            AttemptTrigger.SCHEDULED,
            schedule=job.schedule,
            floor_seconds=job.floor_seconds,
            reserved=job.reserved,
        )
        if outcome.attempt is not None:
            await self._attempts.record_attempt(
                message, outcome.attempt, status=outcome.status, next_attempt=outcome.next_attempt
            )
        elif outcome.status == MessageStatus.CANCELED:
            await self._attempts.cancel(message, job.endpoint_id)
        await self._after(message, outcome, job.attempts + 1)
        return outcome

    async def let_through(self, endpoint: EndpointDoc, *, throttle_wait: float) -> Slot:
        """Lets one manual request to `endpoint` through: its throttle, then the outbound lanes.

        The request must be made with the slot returned (`attempt_now(..., slot=)`), which it
        releases. Someone asked for this request, so an open circuit does not stop it.

        :raises OutboundBusyError: no throttle token within `throttle_wait` seconds, or no
            outbound slot within `HERALD_OUTBOUND_WAIT_SECONDS`; nothing is held then.
        """
        rate = endpoint.get("throttleRate")
        if rate:
            decision = await take_within(
                self._limiter,
                _throttle_key(endpoint),
                rate=float(rate),
                burst=_burst(rate),
                wait=throttle_wait,
            )
            if not decision.allowed:
                raise OutboundBusyError(
                    "The endpoint's throttleRate allows no request now.",
                    retry_after=max(1, math.ceil(decision.retry_after)),
                    throttled=True,
                )
        try:
            return await self._lanes.acquire(
                endpoint["tenantId"], endpoint["url"], wait=self._settings.outbound_wait_seconds
            )
        except LaneBusyError:
            raise OutboundBusyError(
                "Too many webhooks of this tenant (or to this destination) are in flight; retry shortly.",
                retry_after=max(1, math.ceil(self._settings.outbound_wait_seconds)),
                throttled=False,
            ) from None

    async def attempt_now(
        self,
        message: MessageDoc,
        endpoint: EndpointDoc,
        *,
        trigger: AttemptTrigger = AttemptTrigger.MANUAL,
        slot: Slot | None = None,
    ) -> AttemptOutcome:
        """One request now, outside any schedule (resend, recovery): it starts no workflow.

        Someone asked for this request, so an open circuit does not stop it; its result still
        counts for the breaker. A failure leaves a destination whose retries are still scheduled
        `pending`, and makes any other destination `fail`. Without a `slot` from `let_through`, it lets
        the request through itself, waiting for a throttle token as long as for an outbound slot.

        :raises OutboundBusyError: (without `slot`) the request could not go out now.
        """
        if slot is None:
            slot = await self.let_through(endpoint, throttle_wait=self._settings.outbound_wait_seconds)
        try:
            pk = [message["tenantId"], message["appId"]]
            destination = await queries.read(
                self._store, DESTINATION, pk, destination_id(message["id"], endpoint["id"])
            )
            made = await self._execute(message, endpoint, endpoint["id"], 1, trigger, slot=slot)
        finally:
            slot.release()
        if made.attempt is None or made.result is None:
            return made
        retrying = (
            destination.get("nextAttempt")
            if destination is not None and destination["status"] == MessageStatus.PENDING
            else None
        )
        if made.result.success:
            status, next_attempt = MessageStatus.SUCCESS, None
        elif retrying:
            status, next_attempt = MessageStatus.PENDING, from_wire(retrying)
        else:
            status, next_attempt = MessageStatus.FAIL, None
        await self._attempts.record_attempt(message, made.attempt, status=status, next_attempt=next_attempt)
        # An earlier failure makes a success a recovery (the events count from the destination's history).
        failed_before = destination is not None and destination["status"] != MessageStatus.SUCCESS
        settled = replace(made, status=status, retry_in=None, next_attempt=None)
        await self._after(message, settled, 2 if failed_before else 1)
        return settled

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _targets(self, message: MessageDoc) -> list[EndpointDoc]:
        wanted = set(message.get("endpointIds", []))
        endpoints = await self._endpoints.list_all(message["tenantId"], message["appId"])
        return sorted((e for e in endpoints if e["id"] in wanted), key=lambda e: str(e["id"]))

    def _job(
        self, message: MessageDoc, endpoint_id: str, *, attempts: int, retry_in: float, reserved: bool = False
    ) -> RetryJob:
        return RetryJob(
            tenant_id=message["tenantId"],
            app_id=message["appId"],
            msg_id=message["id"],
            endpoint_id=endpoint_id,
            attempts=attempts,
            retry_in=retry_in,
            schedule=list(self._settings.retry_schedule),
            floor_seconds=self._settings.retry_floor_seconds,
            reserved=reserved,
        )

    async def _execute(
        self,
        message: MessageDoc,
        endpoint: EndpointDoc | None,
        endpoint_id: str,
        number: int,
        trigger: AttemptTrigger,
        *,
        schedule: list[int] | None = None,
        floor_seconds: float | None = None,
        body: bytes | None = None,
        reserved: bool = False,
        slot: Slot | None = None,
        slot_wait: float | None = None,
    ) -> AttemptOutcome:
        """Makes attempt `number` unless the endpoint is gone or the attempt is put off; writes nothing.

        With a `slot` (a manual attempt, from `let_through`) the request goes out at once, open
        circuit or not; without, it is let through as scheduled attempts are, waiting `slot_wait`.
        """
        if endpoint is None or endpoint.get("disabled"):
            # Deleted or disabled since: the destination is canceled, no request is made.
            return AttemptOutcome(
                endpoint_id, MessageStatus.CANCELED, None, attempted=False, endpoint=endpoint
            )
        floor = floor_seconds if floor_seconds is not None else self._settings.retry_floor_seconds
        seed = destination_id(message["id"], endpoint_id)
        try:
            held = (
                slot
                if slot is not None
                else await self._let_through_scheduled(
                    message,
                    endpoint,
                    reserved=reserved,
                    floor=floor,
                    seed=seed,
                    wait=self._settings.outbound_wait_seconds if slot_wait is None else slot_wait,
                )
            )
        except _PutOff as off:
            if off.why != "circuit":
                log.info("delivery put off: %s", off.why, extra={"endpoint_id": endpoint_id})
            return AttemptOutcome(
                endpoint_id,
                MessageStatus.PENDING,
                off.retry_in,
                attempted=False,
                reserved=off.reserved,
                endpoint=endpoint,
                next_attempt=_after_seconds(off.retry_in),
            )
        try:
            body = body if body is not None else _payload_bytes(message)
            request = await self._request(message, endpoint, body)
            # Timed from here: the request holds its slots, so the pool never queues it.
            result = await send(
                self._http(), request, self._settings, svix_headers=self._settings.delivery_svix_headers
            )
        finally:
            if slot is None:
                held.release()
        retry_in = next_delay(
            schedule if schedule is not None else list(self._settings.retry_schedule),
            number,
            result,
            seed=seed,
            floor_seconds=floor,
        )
        return AttemptOutcome(
            endpoint_id,
            self._destination_status(result, retry_in),
            retry_in,
            endpoint=endpoint,
            attempt=self._attempts.attempt_doc(
                message, endpoint_id, result, url=endpoint["url"], trigger=trigger
            ),
            result=result,
            next_attempt=_after_seconds(retry_in),
        )

    async def _let_through_scheduled(
        self,
        message: MessageDoc,
        endpoint: EndpointDoc,
        *,
        reserved: bool,
        floor: float,
        seed: str,
        wait: float,
    ) -> Slot:
        """The circuit, the throttle and the lanes, in that order, for a scheduled attempt.

        :raises _PutOff: with the wait before trying again. A throttled attempt reserves its token
            now and waits for it; one that meets a busy lane waits the floor (jittered per destination).
        """
        admission = await self._breaker.admit(endpoint)
        if not admission.allowed:
            # Open circuit: no request; the workflow tries again once a probe may go out.
            raise _PutOff(admission.retry_in, why="circuit")
        # Over the application's rate (shared by all its endpoints) or the endpoint's own, the
        # delivery waits for its tokens; it is never dropped.
        rates = [
            (key, float(rate))
            for key, rate in (
                (f"app:{message['appId']}", message.get("appThrottleRate")),
                (_throttle_key(endpoint), endpoint.get("throttleRate")),
            )
            if rate
        ]
        if rates and not reserved:
            dues = [await self._limiter.reserve(key, rate=rate, burst=_burst(rate)) for key, rate in rates]
            if max(dues) > 0:
                raise _PutOff(max(dues), reserved=True, why="throttle")
            reserved = True
        try:
            return await self._lanes.acquire(endpoint["tenantId"], endpoint["url"], wait=wait)
        except LaneBusyError as busy:
            # Herald's own queue, not the endpoint: a token it reserved is still its own.
            put_off = jittered(floor, seed=seed, attempt=0)
            raise _PutOff(put_off, reserved=reserved, why=f"{busy.lane} busy") from None

    async def _after(self, message: MessageDoc, outcome: AttemptOutcome, number: int) -> None:
        """The breaker, auto-disable and operational events that follow one attempt."""
        if outcome.attempt is None or outcome.result is None or outcome.endpoint is None:
            return
        endpoint, attempt, result, status = outcome.endpoint, outcome.attempt, outcome.result, outcome.status
        facts = _event_data(message, endpoint, attempt)
        tenant = message["tenantId"]
        if result.success:
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
        must_disable = result.gone or failure.failing_for >= self._settings.auto_disable_after_seconds
        if must_disable and await self._endpoints.disable(
            endpoint, reason="gone" if result.gone else "failing"
        ):
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
    def _destination_status(result: AttemptResult, retry_in: float | None) -> MessageStatus:
        if result.success:
            return MessageStatus.SUCCESS
        return MessageStatus.PENDING if retry_in is not None else MessageStatus.FAIL

    async def _request(self, message: MessageDoc, endpoint: EndpointDoc, body: bytes) -> WebhookRequest:
        return WebhookRequest(
            msg_id=message["id"],
            url=endpoint["url"],
            body=body,
            content_type=_content_type(message),
            secrets=await self._endpoints.signing_secrets(endpoint),
            headers=endpoint.get("headers") or {},
            endpoint_id=endpoint["id"],
        )

    def _http(self) -> aiohttp.ClientSession:
        # One pooled client per process, created inside the running loop on first use.
        if self._session is None or self._session.closed:
            self._session = guarded_session(self._settings)
        return self._session
