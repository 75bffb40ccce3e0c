"""Per-endpoint circuit breaker, shared by every instance through a document beside the endpoint.

After `HERALD_BREAKER_FAILURES` consecutive failures the circuit opens: new deliveries then skip
the request and go straight to their retry workflows. After the cool-down one probe is let through
(half-open); its success closes the circuit, its failure opens it again. The same document counts
how long the endpoint has failed without a single success, for auto-disable.

Healthy endpoints cost nothing: each process remembers, for 30 seconds, which endpoints had no
breaker document, so the happy path reads none.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from shared import telemetry
from shared.clock import from_wire, to_wire, utcnow
from shared.settings import HeraldSettings
from shared.store import queries
from shared.store.base import ENDPOINTS, DocumentExistsError, DocumentStore, EtagMismatchError
from shared.store.schema import BREAKER, BREAKER_TYPE, BreakerDoc, EndpointDoc, breaker_id, etag, key_of

# Another instance's opened circuit shows here within this long; healthy endpoints cost no reads.
HEALTHY_CACHE_SECONDS = 30.0
CONFLICT_RETRIES = 5


@dataclass(frozen=True)
class Admission:
    allowed: bool
    # When refused: seconds until a probe may be tried.
    retry_in: float = 0.0


@dataclass(frozen=True)
class FailureReport:
    opened: bool
    # Seconds this endpoint has failed without one success.
    failing_for: float


@dataclass(frozen=True)
class CircuitState:
    """The circuit as it stands: `closed` (requests go out), `open` (deliveries wait until
    `open_until`), or `half-open` (the cool-down is over: the next delivery is the probe)."""

    circuit: Literal["closed", "open", "half-open"]
    # Consecutive failures since the last success, and when the first of them was.
    failures: int = 0
    failing_since: datetime | None = None
    open_until: datetime | None = None


class CircuitBreaker:
    def __init__(self, store: DocumentStore, settings: HeraldSettings) -> None:
        self._store = store
        self._settings = settings
        self._healthy: dict[str, float] = {}

    async def admit(self, endpoint: EndpointDoc) -> Admission:
        """Whether a request to `endpoint` may go out now."""
        if self._healthy.get(endpoint["id"], 0.0) > time.monotonic():
            return Admission(True)
        pk = key_of(endpoint)
        for _ in range(CONFLICT_RETRIES):
            state = await queries.read(self._store, BREAKER, pk, breaker_id(endpoint["id"]))
            opened = state.get("openUntil") if state is not None else None
            if state is None or opened is None:
                if state is None:
                    self._healthy[endpoint["id"]] = time.monotonic() + HEALTHY_CACHE_SECONDS
                return Admission(True)
            now = utcnow()
            open_until = from_wire(opened)
            probe_until = from_wire(state["probeUntil"]) if state.get("probeUntil") else None
            probing = probe_until is not None and probe_until > now
            if open_until > now or probing:
                until = max(open_until, probe_until) if probe_until is not None and probing else open_until
                return Admission(False, max((until - now).total_seconds(), 1.0))
            # Half-open: exactly one caller wins the probe (the ETag decides).
            claimed: BreakerDoc = {
                **state,
                "probeUntil": to_wire(now + timedelta(seconds=self._probe_seconds())),
            }
            try:
                await self._store.replace(ENDPOINTS, claimed, etag=etag(state))
                return Admission(True)
            except EtagMismatchError:
                continue
        return Admission(False, self._settings.breaker_cooldown_seconds)

    async def state(self, endpoint: EndpointDoc) -> CircuitState:
        """The circuit of `endpoint` as its document says now (one read; deliveries use `admit`)."""
        state = await queries.read(self._store, BREAKER, key_of(endpoint), breaker_id(endpoint["id"]))
        if state is None:
            return CircuitState("closed")
        opened, failing = state.get("openUntil"), state.get("failingSince")
        open_until = from_wire(opened) if opened else None
        failing_since = from_wire(failing) if failing else None
        if open_until is None:
            circuit: Literal["closed", "open", "half-open"] = "closed"
        else:
            circuit = "open" if open_until > utcnow() else "half-open"
        return CircuitState(circuit, int(state["failures"]), failing_since, open_until)

    async def succeeded(self, endpoint: EndpointDoc) -> None:
        if self._healthy.get(endpoint["id"], 0.0) > time.monotonic():
            return
        # Closed and forgotten: the next failure starts counting afresh.
        if await self._store.delete(ENDPOINTS, key_of(endpoint), breaker_id(endpoint["id"])):
            telemetry.record_circuit(endpoint["id"], open=False)
        self._healthy[endpoint["id"]] = time.monotonic() + HEALTHY_CACHE_SECONDS

    async def failed(self, endpoint: EndpointDoc) -> FailureReport:
        self._healthy.pop(endpoint["id"], None)
        pk = key_of(endpoint)
        now = utcnow()
        for _ in range(CONFLICT_RETRIES):
            state = await queries.read(self._store, BREAKER, pk, breaker_id(endpoint["id"]))
            if state is None:
                fresh: BreakerDoc = {
                    "id": breaker_id(endpoint["id"]),
                    "type": BREAKER_TYPE,
                    "tenantId": endpoint["tenantId"],
                    "appId": endpoint["appId"],
                    "failures": 1,
                    "failingSince": to_wire(now),
                    "openUntil": self._open_until(1),
                }
                try:
                    await self._store.create(ENDPOINTS, fresh)
                    if fresh["openUntil"] is not None:
                        telemetry.record_circuit(endpoint["id"], open=True)
                    return FailureReport(opened=fresh["openUntil"] is not None, failing_for=0.0)
                except DocumentExistsError:
                    continue
            failures = int(state["failures"]) + 1
            updated: BreakerDoc = {**state, "failures": failures, "openUntil": self._open_until(failures)}
            updated.pop("probeUntil", None)
            try:
                await self._store.replace(ENDPOINTS, updated, etag=etag(state))
            except EtagMismatchError:
                continue
            failing_for = (now - from_wire(state["failingSince"])).total_seconds()
            if updated["openUntil"] is not None:
                telemetry.record_circuit(endpoint["id"], open=True)
            return FailureReport(opened=updated["openUntil"] is not None, failing_for=failing_for)
        return FailureReport(opened=False, failing_for=0.0)

    def _open_until(self, failures: int) -> str | None:
        if failures < self._settings.breaker_failures:
            return None
        return to_wire(utcnow() + timedelta(seconds=self._settings.breaker_cooldown_seconds))

    def _probe_seconds(self) -> float:
        # A probe that never reports back (the process died) frees the circuit after this long.
        return self._settings.delivery_timeout_seconds + 5
