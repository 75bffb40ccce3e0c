"""The sweeper: finds delivery work that a crash or an outage left without a workflow.

Two kinds of work can be stranded, and each sweep looks for both:

- *Unsent* messages: stored, but their first round never finished (the process died, or the
  store failed mid-round). A message's first round writes its dispatch marker; a message without
  one after the grace period was not sent. Only the messages stored since the last sweep are
  read: the sweep keeps a cursor (a small document), so its cost follows the traffic of one
  sweep interval, not of the whole retention period.
- *Stranded* destinations: a destination still `pending` well past its next attempt. Its retry
  workflow never started (a crash between the first round and the start), or failed (an activity
  that met an outage it could not absorb). The caller (`DispatchService.sweep`) restarts those
  whose workflow is not live. They are taken tenant by tenant, each tenant's oldest first and at
  most `STRANDED_PER_TENANT` of them, so one tenant's stuck destinations cannot take every slot of
  a sweep; the tenants are visited in id order from where the last sweep stopped (kept in the
  cursor), so every tenant's turn comes.

The sweep never sends anything itself: it returns retry jobs, and the workflows make the attempts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from shared.clock import from_wire, to_wire, utcnow
from shared.models import AttemptTrigger
from shared.services.attempts import AttemptService
from shared.services.delivery import RetryJob
from shared.settings import HeraldSettings
from shared.store import queries
from shared.store.base import MESSAGES, DocumentExistsError, DocumentStore, EtagMismatchError
from shared.store.queries import Window
from shared.store.schema import (
    SWEEP_CURSOR,
    SWEEP_CURSOR_ID,
    SWEEP_CURSOR_KEY,
    SWEEP_CURSOR_TYPE,
    AppScoped,
    SweepCursorDoc,
    UnsentMessage,
    etag,
)

# One sweep reads at most this much message time: after a long outage, sweeps catch up in steps
# (each the size of one sweep's memory), not in one unbounded read. The first sweep of a new
# database reads one such window back from its cutoff.
MAX_WINDOW_SECONDS = 600
# At most this many jobs of each kind per sweep; the rest wait for the next one.
SWEEP_LIMIT = 200
# Stranded pairs: at most this many of one tenant per sweep, from at most this many tenants.
STRANDED_PER_TENANT = 20
STRANDED_TENANTS = 50


@dataclass(frozen=True)
class Sweep:
    unsent: list[RetryJob]
    stranded: list[RetryJob]
    # Where the next sweep starts reading messages.
    next_cursor: datetime
    # The unsent messages as the query read them (what their dispatch markers are made of).
    messages: dict[str, UnsentMessage] = field(default_factory=dict)
    # The cursor document as this sweep read it (None before the first sweep).
    cursor: SweepCursorDoc | None = None
    # The tenant after which the next sweep looks for stranded destinations (None: from the first).
    stranded_after: str | None = None


class Sweeper:
    def __init__(self, store: DocumentStore, settings: HeraldSettings, attempts: AttemptService) -> None:
        self._store = store
        self._settings = settings
        self._attempts = attempts

    async def sweep(self) -> Sweep:
        now = utcnow()
        cutoff = now - timedelta(seconds=self._settings.sweep_grace_seconds)
        cursor = await queries.read(self._store, SWEEP_CURSOR, SWEEP_CURSOR_KEY, SWEEP_CURSOR_ID)
        # The first sweep of a database reads one window back from its cutoff.
        start = from_wire(cursor["at"]) if cursor else cutoff - timedelta(seconds=MAX_WINDOW_SECONDS)
        end = min(cutoff, start + timedelta(seconds=MAX_WINDOW_SECONDS))
        (unsent, messages, next_cursor), (stranded, stranded_after) = await asyncio.gather(
            self._unsent(start, end), self._stranded(cutoff, cursor.get("strandedAfter") if cursor else None)
        )
        return Sweep(unsent, stranded, next_cursor, messages, cursor, stranded_after)

    async def resume(self, jobs: list[RetryJob]) -> list[RetryJob]:
        """The stranded jobs with the number of scheduled attempts each destination has had so far."""
        return list(await asyncio.gather(*(self._with_attempt_count(job) for job in jobs)))

    async def finish(self, sweep: Sweep, not_started: list[RetryJob]) -> None:
        """After the workflows started: marks the unsent messages sent and moves the cursor on.

        A message with a workflow that did not start stays unmarked, and the cursor stops before
        it, so the next sweep finds it again.
        """
        missed = {job.msg_id for job in not_started}
        for msg_id, message in sweep.messages.items():
            if msg_id not in missed:
                await self._attempts.mark_dispatched(message)
        missed_at = [from_wire(sweep.messages[msg_id]["timestamp"]) for msg_id in missed]
        await self._move_cursor(sweep.cursor, min([sweep.next_cursor, *missed_at]), sweep.stranded_after)

    async def _unsent(
        self, start: datetime, end: datetime
    ) -> tuple[list[RetryJob], dict[str, UnsentMessage], datetime]:
        if end <= start:
            return [], {}, start
        window = Window(to_wire(start), to_wire(end))
        messages, markers = await asyncio.gather(
            queries.messages_stored_between(self._store, window),
            queries.dispatched_between(self._store, window),
        )
        sent = set(markers)
        lost = sorted((m for m in messages if m["id"] not in sent), key=lambda m: m["timestamp"])
        taken, left = lost[:SWEEP_LIMIT], lost[SWEEP_LIMIT:]
        # With more lost than one sweep takes, the next sweep starts at the first one left.
        next_cursor = from_wire(left[0]["timestamp"]) if left else end
        now = utcnow()
        jobs = [
            # A message scheduled for later still waits for its time.
            self._job(m, m["id"], endpoint_id, retry_in=_seconds_until(m.get("deliverAt"), now))
            for m in taken
            for endpoint_id in m["endpointIds"]
        ]
        return jobs, {m["id"]: m for m in taken}, next_cursor

    async def _stranded(self, cutoff: datetime, start_after: str | None) -> tuple[list[RetryJob], str | None]:
        """Stranded pairs, tenant by tenant from `start_after`; and where the next sweep starts."""
        due = to_wire(cutoff)
        jobs: list[RetryJob] = []
        tenants = 0
        async for tenant in self._stranded_tenants(due, start_after):
            pairs = await queries.stranded_pairs(
                self._store, due, tenant, limit=min(STRANDED_PER_TENANT, SWEEP_LIMIT - len(jobs))
            )
            jobs += [self._job(p, p["msgId"], p["endpointId"]) for p in pairs]
            tenants += 1
            if len(jobs) >= SWEEP_LIMIT or tenants >= STRANDED_TENANTS:
                # Out of slots: the next sweep starts with the tenants after this one.
                return jobs, tenant
        return jobs, None

    async def _stranded_tenants(self, due: str, start_after: str | None) -> AsyncIterator[str]:
        """Tenants with stranded pairs in id order after `start_after`, then from the first up to it."""
        after, wrapped = start_after, start_after is None
        while True:
            tenant = await queries.next_tenant_with_stranded(self._store, due, after=after)
            if tenant is not None and not (wrapped and start_after is not None and tenant > start_after):
                after = tenant
                yield after
            elif wrapped:
                return
            else:
                after, wrapped = None, True

    async def _with_attempt_count(self, job: RetryJob) -> RetryJob:
        triggers = await queries.attempt_triggers(
            self._store, job.tenant_id, job.app_id, job.msg_id, job.endpoint_id
        )
        # Manual attempts (resends) are outside the schedule: they do not use up retries.
        scheduled = sum(1 for trigger in triggers if trigger == int(AttemptTrigger.SCHEDULED))
        return replace(job, attempts=scheduled)

    def _job(self, row: AppScoped, msg_id: str, endpoint_id: str, *, retry_in: float = 0) -> RetryJob:
        """A pair's retry workflow from its first attempt (`resume` counts those it had)."""
        return RetryJob(
            tenant_id=row["tenantId"],
            app_id=row["appId"],
            msg_id=msg_id,
            endpoint_id=endpoint_id,
            attempts=0,
            retry_in=retry_in,
            schedule=list(self._settings.retry_schedule),
            floor_seconds=self._settings.retry_floor_seconds,
        )

    async def _move_cursor(
        self, current: SweepCursorDoc | None, at: datetime, stranded_after: str | None
    ) -> None:
        try:
            if current is None:
                doc: SweepCursorDoc = {
                    "id": SWEEP_CURSOR_ID,
                    "type": SWEEP_CURSOR_TYPE,
                    "tenantId": SWEEP_CURSOR_KEY[0],
                    "appId": SWEEP_CURSOR_KEY[1],
                    "at": to_wire(at),
                    "strandedAfter": stranded_after,
                }
                await self._store.create(MESSAGES, doc)
            elif from_wire(current["at"]) < at or current.get("strandedAfter") != stranded_after:
                # The cursor never moves back.
                moved: SweepCursorDoc = {
                    **current,
                    "at": to_wire(max(at, from_wire(current["at"]))),
                    "strandedAfter": stranded_after,
                }
                await self._store.replace(MESSAGES, moved, etag=etag(current))
        except (DocumentExistsError, EtagMismatchError):
            # Another instance swept at the same time and moved it; its sweep covered the same window.
            return


def _seconds_until(moment: str | None, now: datetime) -> float:
    return max(0.0, (from_wire(moment) - now).total_seconds()) if moment else 0.0
