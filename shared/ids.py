"""Resource ids: a type prefix plus a KSUID, so ids sort by creation time like Svix's."""

from __future__ import annotations

import threading
from collections.abc import Callable

import base62
from ksuid import KsuidMs

APP = "app"
ENDPOINT = "ep"
MESSAGE = "msg"
ATTEMPT = "atmpt"
DEAD_LETTER = "dlq"
# Svix calls its background tasks "queue tasks".
BACKGROUND_TASK = "qtask"


# pybase62 ships no type hints: its integer encoder, typed.
_base62: Callable[[int], str] = base62.encode

_last = 0
_lock = threading.Lock()


def new_seed() -> str:
    """The time-ordered part of an id, reserved ahead when a retried request must reuse it.

    Within a process each seed is greater than the one before, even inside one KSUID tick (4 ms),
    where the random part alone would order them at random: lists sorted by id (newest first)
    keep the order in which one process created their items.
    """
    global _last
    with _lock:
        value = int.from_bytes(bytes(KsuidMs()), "big")
        # Same tick (or a clock stepped back): one past the previous seed instead.
        _last = value if value > _last else _last + 1
        # KSUID's base62 (the same alphabet and width as `str(KsuidMs)`), by pybase62: a new id on
        # every attempt, and the KSUID library's own encoder cost 2-3% of a host's CPU (bench/delivery).
        return _base62(_last).zfill(KsuidMs.BASE62_LENGTH)


def new_id(prefix: str, seed: str | None = None) -> str:
    """A new id such as `msg_2QvH3...`; later ids compare greater as strings (across processes, to 4 ms)."""
    return f"{prefix}_{seed or new_seed()}"
