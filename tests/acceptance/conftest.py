"""Acceptance: the official `svix` SDK drives Herald over real HTTP, served by devhost."""

from __future__ import annotations

import uuid

import pytest
from svix.api import ApplicationIn, Svix, SvixOptions


@pytest.fixture(scope="session")
def svix(herald_url: str) -> Svix:
    # Any bearer token until the security issue adds validation; the SDK sends it as given.
    return Svix("dev-token", SvixOptions(server_url=herald_url))


@pytest.fixture
def app_id(svix: Svix) -> str:
    """A fresh application of the test's own."""
    return svix.application.create(ApplicationIn(name="Acme", uid=f"acme-{uuid.uuid4().hex[:10]}")).id
