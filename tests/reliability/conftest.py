"""Fixtures of the fault tests: private emulators (never the shared ones), receivers, Herald hosts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.emulators import PrivateAzurite, PrivateCosmos, private_azurite, private_cosmos
from tests.support.receivers import Receiver, running_receiver


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
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running
