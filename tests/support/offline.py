"""The `offline` mark's check: an autouse fixture both conftests (tests/, devhost/tests/) take in.

A module marked `pytestmark = pytest.mark.offline` needs no emulator, no server of its own and no
network: `make test-unit` runs exactly those, in seconds. The mark is checked, not trusted: while
an offline test runs, opening a connection or resolving a name fails it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

MARKER = "offline"  # declared in pyproject.toml's markers


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError(
        "an offline test tried to reach the network: drop its `offline` mark or keep it off the network"
    )


@pytest.fixture(autouse=True)
def offline_tests_stay_off_the_network(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker(MARKER) is None:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        for name in ("connect", "connect_ex"):
            patch.setattr(socket.socket, name, _refuse)
        patch.setattr(socket, "getaddrinfo", _refuse)
        yield
