"""Acceptance: the official `svix` SDK drives Herald over real HTTP, served by devhost."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import httpx
import pytest
from svix.api import ApplicationIn, Svix, SvixOptions

from tests.support.settings import ROOT
from tests.support.tokens import ACCEPTANCE_TENANT, Minter


@pytest.fixture(scope="session")
def svix1_python() -> str:
    """The svix 1.x SDK's interpreter (scripts/svix1_venv.sh makes its virtualenv when missing)."""
    made = subprocess.run(
        ["bash", str(ROOT / "scripts" / "svix1_venv.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def token(mint: Minter) -> str:
    return mint(ACCEPTANCE_TENANT)


@pytest.fixture(scope="session")
def svix(herald_url: str, token: str) -> Svix:
    # The SDK sends the JWT as its bearer token, unchanged.
    return Svix(token, SvixOptions(server_url=herald_url))


@pytest.fixture
def http(herald_url: str, token: str) -> Iterator[httpx.Client]:
    """Raw HTTP with the suite's token, for what the SDK cannot send."""
    with httpx.Client(base_url=herald_url, headers={"authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.fixture
def app_id(svix: Svix) -> str:
    """A fresh application of the test's own."""
    return svix.application.create(ApplicationIn(name="Acme", uid=f"acme-{uuid.uuid4().hex[:10]}")).id
