"""Fixtures shared by devhost's tests."""

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """A temporary folder shared by one test module (one host start per module)."""
    return tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
