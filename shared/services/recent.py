"""A per-process memory of recently read documents, for the message path only.

Accepting a message needs its application and the application's endpoints, but not their latest
ETags: remembering them for a few seconds spares two reads per message. A write in this process
forgets what it changed at once; a write through another instance shows within `RECENT_SECONDS`
(the README says so). Reads that lead to writes never use it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

RECENT_SECONDS = 5.0
RECENT_MAX = 10_000

Key = tuple[str, ...]
T = TypeVar("T")


class Recent[T]:
    def __init__(self, seconds: float = RECENT_SECONDS, max_entries: int = RECENT_MAX) -> None:
        self._seconds = seconds
        self._max = max_entries
        self._entries: dict[Key, tuple[float, T]] = {}

    async def get(self, key: Key, load: Callable[[], Awaitable[T | None]]) -> T | None:
        """The remembered value, or `load()`'s (remembered unless None)."""
        hit = self._entries.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        value = await load()
        if value is not None:
            if len(self._entries) >= self._max:
                # Bounded memory: a full cache starts over rather than tracking recency.
                self._entries.clear()
            self._entries[key] = (time.monotonic() + self._seconds, value)
        return value

    def forget(self, *prefix: str) -> None:
        """Forgets every entry whose key starts with `prefix`."""
        size = len(prefix)
        for key in [key for key in self._entries if key[:size] == prefix]:
            self._entries.pop(key, None)
