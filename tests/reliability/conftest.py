"""Fixtures of the fault tests: private emulators (never the shared ones), receivers, settings.

Two hosts never poll the private Azurite's `herald-inbound` at once unless a test means it: a host
shared by a module's tests lives only as long as that module, and tests that start their own
hosts (kills, restarts) start them one after the other.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.emulators import PrivateAzurite, PrivateCosmos, private_azurite, private_cosmos
from tests.support.faults import fault_env
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
    """A receiver per test (not per module): each test switches its behaviour and counts its hits."""
    with running_receiver() as running:
        yield running


@pytest.fixture
def fault_settings(
    herald_env: dict[str, str], cosmos: PrivateCosmos, storage: PrivateAzurite
) -> dict[str, str]:
    """The fault tests' settings on the private emulators, with a database of the test's own."""
    return fault_env(herald_env, cosmos_endpoint=cosmos.endpoint, storage=storage.connection_string)


@pytest.fixture
def restartable(fault_settings: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """`fault_settings` with a Durable state file the test keeps: a host started again on it (the
    same port too) resumes the workflows the one before it left."""
    return {**fault_settings, "DEVHOST_DURABLE_DB": str(tmp_path / "durable.sqlite3")}
