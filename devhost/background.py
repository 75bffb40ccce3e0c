"""Background work of the triggers that are not requests (queues, timers): sleeping, stopping, draining.

Such a handler starts its loops when the server starts. When the server shuts down it stops them
from taking new work (``on_shutdown``, which every handler receives at once) and then lets work
already running finish until one shared grace period ends, after which what is left is cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from typing import Any

from aiohttp import web

logger = logging.getLogger(__name__)


class Stopping:
    """Set when the server begins shutting down; carries the deadline for in-flight work."""

    def __init__(self, grace_seconds: float) -> None:
        self.event = asyncio.Event()
        self._grace_seconds = grace_seconds
        self._deadline: float | None = None

    def attach(self, web_app: web.Application) -> None:
        web_app.on_shutdown.append(self._on_shutdown)

    async def _on_shutdown(self, _web_app: web.Application) -> None:
        self.set()

    def set(self) -> None:
        if self._deadline is None:
            self._deadline = asyncio.get_running_loop().time() + self._grace_seconds
        self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()

    async def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless stopping first; True if stopping."""
        return await wait_any([self.event], within=seconds)

    async def drain(self, tasks: Collection[asyncio.Task[Any]], what: str) -> None:
        """Wait for ``tasks`` until the grace period ends, then cancel the rest."""
        self.set()
        assert self._deadline is not None  # set() fixes it
        pending = {task for task in tasks if not task.done()}
        remaining = self._deadline - asyncio.get_running_loop().time()
        if pending and remaining > 0:
            _, pending = await asyncio.wait(pending, timeout=remaining)
        if pending:
            logger.warning(
                "%d %s still running when the shutdown grace period ended; cancelled", len(pending), what
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


async def wait_any(events: Collection[asyncio.Event], within: float | None = None) -> bool:
    """Wait until one of ``events`` is set, for at most ``within`` seconds; True if one is set."""
    if any(event.is_set() for event in events):
        return True
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Cancelled, not awaited: awaiting here could swallow a cancellation of the caller.
        for waiter in waiters:
            waiter.cancel()
    return any(event.is_set() for event in events)
