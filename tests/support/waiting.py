"""Waiting for something the system does in the background, bounded."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually[T](
    check: Callable[[], T | None], *, what: str = "condition not met in time", timeout: float = 20.0
) -> T:
    """`check()`'s first answer that is neither None nor False, asked every 50 ms. An AssertionError
    it raises means "not yet" until `timeout` seconds have passed; then it is raised, or `what`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        else:
            if result is not None and result is not False:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(what)
        time.sleep(0.05)
