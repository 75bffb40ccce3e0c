"""Fixtures shared by devhost's tests."""

from pathlib import Path

import pytest

from tests.support.offline import offline_tests_stay_off_the_network  # noqa: F401 (autouse)


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """A temporary folder shared by one test module (one host start per module)."""
    return tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
