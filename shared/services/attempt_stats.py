"""An endpoint's attempt statistics (Svix's `GET .../endpoint/{id}/attempt-stats`), counted on read.

The window is rounded out to whole hours, as Svix rounds it (`since` down, `until` up); it ends now
without `until` and starts `DEFAULT_DAYS` before its end without `since`, and it may span at most
HERALD_RETENTION_DAYS (nothing older is kept). Counted per UTC day: attempts that succeeded and
attempts that failed (the attempt log), and deliveries canceled (pairs that ended `canceled`, their
endpoint disabled or deleted before a retry: no request went out, so they have no attempt).

Each day and kind is one COUNT query inside the application's partition: the cost follows the
window's length, not the number of attempts, and the message path writes nothing for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from shared.clock import from_wire, utcnow
from shared.errors import ValidationFailedError
from shared.models import AttemptStatisticsData, EndpointAttemptStats, MessageStatus
from shared.services.applications import ApplicationService
from shared.services.endpoints import EndpointService
from shared.store import queries
from shared.store.base import DocumentStore
from shared.store.queries import Window

DEFAULT_DAYS = 7
# Counts in flight at once: a 90-day window is 270 small queries.
CONCURRENCY = 10
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# A part of the window: [from, to).
Span = tuple[datetime, datetime]
# A count of an endpoint's documents in a status within a window (`queries.count_*`).
Count = Callable[[DocumentStore, str, str, str, MessageStatus, Window], Awaitable[int]]


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(moment: datetime) -> datetime:
    floor = _floor_hour(moment)
    return floor if floor == moment else floor + HOUR


def _bound(moment: datetime) -> str:
    """A window bound as stored timestamps compare with it: always with microseconds.

    `to_wire` leaves them out when they are zero, and "...00Z" sorts after "...00.5Z" as text.
    """
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _days(start: datetime, end: datetime) -> list[Span]:
    """The window cut at UTC midnights, oldest first."""
    spans = []
    day = start.replace(hour=0)
    while day < end:
        spans.append((max(day, start), min(day + DAY, end)))
        day += DAY
    return spans


class AttemptStatsService:
    def __init__(
        self,
        store: DocumentStore,
        applications: ApplicationService,
        endpoints: EndpointService,
        *,
        retention_days: int,
    ) -> None:
        self._store = store
        self._apps = applications
        self._endpoints = endpoints
        self._longest = timedelta(days=retention_days)

    async def stats(
        self,
        tenant_id: str,
        app_id_or_uid: str,
        endpoint_id_or_uid: str,
        since: str | None,
        until: str | None,
    ) -> EndpointAttemptStats:
        """`since` and `until` in the stored form (`Call.time`), or None.

        :raises NotFoundError: no such application or endpoint.
        :raises ValidationFailedError: a window that ends before it starts, or longer than retention.
        """
        start, end, spans = self._window(since, until)
        app = await self._apps.get(tenant_id, app_id_or_uid)
        endpoint = await self._endpoints.get(tenant_id, app["id"], endpoint_id_or_uid)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def count(counted: Count, status: MessageStatus, span: Span) -> int:
            window = Window(_bound(span[0]), _bound(span[1]))
            async with gate:
                return await counted(self._store, tenant_id, app["id"], endpoint["id"], status, window)

        kinds: list[tuple[Count, MessageStatus]] = [
            (queries.count_attempts, MessageStatus.SUCCESS),
            (queries.count_attempts, MessageStatus.FAIL),
            # A canceled pair's last move is its cancellation.
            (queries.count_destinations_last_moved, MessageStatus.CANCELED),
        ]
        counts = await asyncio.gather(
            *(count(counted, status, span) for counted, status in kinds for span in spans)
        )
        days = len(spans)
        success, fail, canceled = (counts[index * days : (index + 1) * days] for index in range(len(kinds)))
        return EndpointAttemptStats(
            success=sum(success),
            fail=sum(fail),
            canceled=sum(canceled),
            start_date=start,
            end_date=end,
            data=AttemptStatisticsData(success_count=success, failure_count=fail, canceled_count=canceled),
        )

    def _window(self, since: str | None, until: str | None) -> tuple[datetime, datetime, list[Span]]:
        """The window rounded out to hours, and its days (422 for one that cannot be counted)."""
        try:
            end = _ceil_hour(from_wire(until) if until else utcnow())
            start = _floor_hour(from_wire(since)) if since else end - timedelta(days=DEFAULT_DAYS)
            if end <= start:
                raise ValidationFailedError.single(["query", "until"], "until must be later than since")
            if end - start > self._longest:
                raise ValidationFailedError.single(
                    ["query", "since"], f"the window may span at most {self._longest.days} days"
                )
            return start, end, _days(start, end)
        except OverflowError:
            # Rounding, the default start or the last day ran past year 1 or 9999.
            raise ValidationFailedError.single(["query", "until"], "the window is out of range") from None
