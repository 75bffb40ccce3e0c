"""An event loop on a thread of its own, for loopback servers driven by blocking test code."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

CONTROL_TIMEOUT_SECONDS = 10.0

Starter = Callable[[], Coroutine[Any, Any, None]]


@contextmanager
def loop_on_a_thread(
    name: str, start: Starter, stop: Starter, loop: asyncio.AbstractEventLoop | None = None
) -> Iterator[asyncio.AbstractEventLoop]:
    """Runs `start()` on a new loop on a daemon thread, yields the loop while it serves, then runs
    `stop()` there and closes it. Blocking calls in the test never stall what the loop serves."""
    loop = loop or asyncio.new_event_loop()
    ready = threading.Event()
    failed: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(start())
        except BaseException as exc:  # handed to the caller's thread below
            failed.append(exc)
            ready.set()
            return
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    if not ready.wait(CONTROL_TIMEOUT_SECONDS) or failed:
        raise RuntimeError(f"{name} did not start") from (failed[0] if failed else None)
    try:
        yield loop
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(CONTROL_TIMEOUT_SECONDS)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(CONTROL_TIMEOUT_SECONDS)
        loop.close()


def call_on(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, None]) -> None:
    """Runs `coroutine` on `loop` (another thread's) and waits for it, bounded."""
    asyncio.run_coroutine_threadsafe(coroutine, loop).result(CONTROL_TIMEOUT_SECONDS)
