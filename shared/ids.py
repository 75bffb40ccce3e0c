"""Resource ids: a type prefix plus a KSUID, so ids sort by creation time like Svix's."""

from __future__ import annotations

from ksuid import KsuidMs

APP = "app"
ENDPOINT = "ep"
MESSAGE = "msg"
ATTEMPT = "atmpt"
DEAD_LETTER = "dlq"
# Svix calls its background tasks "queue tasks".
BACKGROUND_TASK = "qtask"


def new_seed() -> str:
    """The time-ordered part of an id, reserved ahead when a retried request must reuse it."""
    return str(KsuidMs())


def new_id(prefix: str, seed: str | None = None) -> str:
    """A new id such as `msg_2QvH3...`; later ids compare greater as strings (to 4 ms)."""
    return f"{prefix}_{seed or new_seed()}"
