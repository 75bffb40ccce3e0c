"""Outbound lanes: each tenant, and each host, gets a bounded share of the requests in flight.

One process sends every tenant's webhooks through one connection pool. Without lanes, a tenant
whose receivers accept connections and never answer holds every connection for the delivery
timeout, and every other tenant's requests queue behind its own (then time out while queued,
charged to endpoints that did nothing wrong). So before a request goes out it takes a slot of its
tenant's lane, of its host's lane (scheme, host and port, as the connection pool keys its
connections) and of the process's, in that order: a request waiting for a slot holds only slots
of its own tenant. The wait for all three is bounded; a request that does not get them in time is
not made (`LaneBusyError`), and the caller puts the attempt off without counting it. The pool is
as large as the process's lane, so it never queues a request itself: a request's timeout starts
when it holds its slots, that is when it is sent.

Lanes are per process (per instance in Azure). Each lane lives while a request holds or waits for
one of its slots, so memory follows the requests in flight, not the tenants or hosts ever seen.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from yarl import URL

from shared.settings import HeraldSettings


class LaneBusyError(Exception):
    """No slot came free in time; `lane` names the full one: "tenant", "host" or "process"."""

    def __init__(self, lane: str) -> None:
        super().__init__(f"the {lane}'s outbound share is busy")
        self.lane = lane


@dataclass
class _Lane:
    semaphore: asyncio.Semaphore
    # Requests holding or waiting for a slot: at zero every slot is free and the lane can go.
    users: int = 0
    holding: int = 0


@dataclass
class _Lanes:
    """Lanes of one kind (tenants, hosts), each `size` slots wide, made on first use."""

    size: int
    lanes: dict[object, _Lane] = field(default_factory=dict)

    async def acquire(self, key: object) -> None:
        lane = self.lanes.get(key)
        if lane is None:
            lane = self.lanes[key] = _Lane(asyncio.Semaphore(self.size))
        lane.users += 1
        try:
            await lane.semaphore.acquire()
        except BaseException:
            self._leave(key, lane)
            raise
        lane.holding += 1

    def release(self, key: object) -> None:
        lane = self.lanes[key]
        lane.holding -= 1
        lane.semaphore.release()
        self._leave(key, lane)

    def free(self, key: object) -> bool:
        """Whether a slot of the key's lane can be taken now, without waiting."""
        lane = self.lanes.get(key)
        return lane is None or not lane.semaphore.locked()

    def in_use(self, key: object) -> int:
        lane = self.lanes.get(key)
        return 0 if lane is None else lane.holding

    def _leave(self, key: object, lane: _Lane) -> None:
        lane.users -= 1
        if lane.users == 0:
            del self.lanes[key]


@functools.lru_cache(maxsize=4096)
def host_key(url: str) -> object:
    """The host a URL's requests share: scheme, host and port as the HTTP client reads them.

    Remembered per URL (bounded): every attempt asks, and endpoints' URLs repeat.
    """
    try:
        parsed = URL(url)
        return (parsed.scheme, parsed.raw_host, parsed.port)
    except (TypeError, ValueError):
        # The request will fail anyway; it still takes a lane of its own.
        return url


@dataclass
class Slot:
    """Slots held in the three lanes; `release` gives them back (once, however often called)."""

    held: list[tuple[_Lanes, object]]

    def release(self) -> None:
        while self.held:
            lanes, key = self.held.pop()
            lanes.release(key)


class OutboundLanes:
    """The process's outbound slots: in all, per tenant and per host."""

    def __init__(self, *, total: int, per_tenant: int, per_host: int) -> None:
        self._process = _Lanes(total)
        self._tenants = _Lanes(per_tenant)
        self._hosts = _Lanes(per_host)

    @classmethod
    def from_settings(cls, settings: HeraldSettings) -> OutboundLanes:
        return cls(
            total=settings.outbound_connections,
            per_tenant=settings.outbound_per_tenant,
            per_host=settings.outbound_per_host,
        )

    async def acquire(self, tenant_id: str, url: str, *, wait: float) -> Slot:
        """A slot of the tenant's, the host's and the process's lane, for one request.

        :raises LaneBusyError: when the three are not all free within `wait` seconds (nothing is
            held then).
        """
        slot = Slot([])
        # Tenant first: a request waiting for a busy host or process holds only slots
        # of its own tenant.
        steps = (
            ("tenant", self._tenants, tenant_id),
            ("host", self._hosts, host_key(url)),
            ("process", self._process, None),
        )
        # Every lane with a slot free (the usual case): the slots are taken at once (none of the
        # awaits yields to the loop), so no timer is armed for the wait.
        free = all(kind.free(key) for _, kind, key in steps)
        lane = "tenant"
        try:
            async with asyncio.timeout(None if free else wait):
                for name, kind, key in steps:
                    lane = name
                    await kind.acquire(key)
                    slot.held.append((kind, key))
        except TimeoutError:
            slot.release()
            raise LaneBusyError(lane) from None
        except BaseException:
            slot.release()
            raise
        return slot

    @asynccontextmanager
    async def slot(self, tenant_id: str, url: str, *, wait: float) -> AsyncIterator[None]:
        """`acquire` for the block; released when it ends."""
        held = await self.acquire(tenant_id, url, wait=wait)
        try:
            yield
        finally:
            held.release()

    def in_flight(self, tenant_id: str) -> int:
        """Slots the tenant holds now (for tests and benchmarks)."""
        return self._tenants.in_use(tenant_id)
