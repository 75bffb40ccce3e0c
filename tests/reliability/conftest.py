"""Fixtures of the fault tests: private emulators (never the shared ones), receivers, Herald hosts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability.emulators import PrivateAzurite, PrivateCosmos, private_azurite, private_cosmos
from tests.reliability.receiver import FaultyReceiver, running_receiver


@pytest.fixture(scope="package")
def cosmos() -> Iterator[PrivateCosmos]:
    """A Cosmos DB server of the fault tests' own: pausing it disturbs no other test run."""
    with private_cosmos() as server:
        yield server


@pytest.fixture(scope="package")
def storage() -> Iterator[PrivateAzurite]:
    """An Azurite of the fault tests' own: their hosts poll its `herald-inbound`, nobody else's."""
    with private_azurite() as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[FaultyReceiver]:
    with running_receiver() as running:
        yield running
