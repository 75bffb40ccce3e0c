"""Fixtures the security tests share."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.settings import ROOT


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder for `scripts/dev_auth.py` (`make token`, `make run`): the script, the token
    minting it imports, and local settings copied from the example; keys it writes stay in here."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "dev_auth.py", tmp_path / "scripts" / "dev_auth.py")
    (tmp_path / "tests" / "support").mkdir(parents=True)
    for module in ("__init__.py", "support/__init__.py", "support/tokens.py"):
        shutil.copy(ROOT / "tests" / module, tmp_path / "tests" / module)
    for name in ("local.settings.example.json", "local.settings.json"):
        shutil.copy(ROOT / "local.settings.example.json", tmp_path / name)
    return tmp_path
