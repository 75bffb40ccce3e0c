"""What tests ask of the svix SDK beyond its own calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from svix.exceptions import HttpError


def status_of(call: Callable[[], Any]) -> int:
    """The HTTP status of the error `call` raises through the SDK; a call that succeeds fails the test."""
    try:
        call()
    except HttpError as error:
        return int(error.status_code)
    raise AssertionError("the call succeeded; an HTTP error was expected")
