"""`make token`: local tokens pass the same validation as production tokens.

They name their tenant in the claim the local Herald reads (the calling application, `azp`, by
default) beside one `tid` for all, as Entra's tokens do; `make token TENANT=t` is tenant `t`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from shared.auth import TokenValidator, jwks_source
from shared.errors import UnauthorizedError
from shared.scopes import Scope
from shared.settings import HeraldSettings


def _run(project: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(project / "scripts" / "dev_auth.py"), *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=project,
    )
    return done.stdout


def _settings(project: Path) -> HeraldSettings:
    values = json.loads((project / "local.settings.json").read_text())["Values"]
    herald = {
        k.removeprefix("HERALD_").lower(): v for k, v in values.items() if k.startswith("HERALD_") and v
    }
    return HeraldSettings(**herald)


async def test_init_writes_a_jwks_and_tokens_validate_against_it(project: Path) -> None:
    _run(project, "init")
    settings = _settings(project)
    assert settings.auth_jwks and settings.local_kek
    private_key = project / ".local" / "dev-auth" / "private.pem"
    assert private_key.stat().st_mode & 0o777 == 0o600
    assert "PRIVATE" not in (project / "local.settings.json").read_text()

    token = _run(project, "token").strip().splitlines()[-1]
    principal = await TokenValidator(settings, jwks_source(settings)).authenticate(f"Bearer {token}")
    assert principal.tenant_id == "default"
    assert {Scope.READ, Scope.WRITE, Scope.ADMIN} <= principal.scopes

    narrow = _run(project, "token", "--tenant", "t1", "--scopes", "herald.read").strip().splitlines()[-1]
    reader = await TokenValidator(settings, jwks_source(settings)).authenticate(f"Bearer {narrow}")
    assert (reader.tenant_id, reader.scopes) == ("t1", frozenset({"herald.read"}))


def test_init_adds_settings_new_in_the_example_and_keeps_the_users(project: Path) -> None:
    local = json.loads((project / "local.settings.json").read_text())
    local["Values"].pop("TASK_HUB_NAME")
    local["Values"]["HERALD_RETENTION_DAYS"] = "7"
    (project / "local.settings.json").write_text(json.dumps(local))
    _run(project, "init")
    values = json.loads((project / "local.settings.json").read_text())["Values"]
    assert values["TASK_HUB_NAME"] == "heraldlocal" and values["HERALD_RETENTION_DAYS"] == "7"


async def test_init_is_idempotent_and_keeps_the_key(project: Path) -> None:
    _run(project, "init")
    key = (project / ".local" / "dev-auth" / "private.pem").read_bytes()
    before = _settings(project)
    token = _run(project, "token").strip().splitlines()[-1]
    _run(project, "init")
    settings = _settings(project)
    assert (project / ".local" / "dev-auth" / "private.pem").read_bytes() == key
    assert (settings.auth_jwks, settings.local_kek) == (before.auth_jwks, before.local_kek)
    # A token minted before the second init still validates.
    principal = await TokenValidator(settings, jwks_source(settings)).authenticate(f"Bearer {token}")
    assert principal.tenant_id == "default"


async def test_without_an_issuer_nobody_gets_in(project: Path) -> None:
    _run(project, "init")
    token = _run(project, "token").strip().splitlines()[-1]
    settings = _settings(project).model_copy(update={"auth_issuer": None})
    with pytest.raises(UnauthorizedError):
        await TokenValidator(settings, jwks_source(settings)).authenticate(f"Bearer {token}")


def _last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


async def test_dev_tokens_name_their_tenant_in_the_claim_herald_reads(project: Path) -> None:
    _run(project, "init")
    settings = _settings(project)
    validator = TokenValidator(settings, jwks_source(settings))
    first = _last_line(_run(project, "token", "--tenant", "t1"))
    second = _last_line(_run(project, "token", "--tenant", "t2"))
    claims = [jwt.decode(token, options={"verify_signature": False}) for token in (first, second)]
    # One directory, as in Entra: the same `tid`; the calling application differs.
    assert claims[0]["tid"] == claims[1]["tid"]
    assert (claims[0][settings.auth_tenant_claim], claims[1][settings.auth_tenant_claim]) == ("t1", "t2")
    assert (await validator.authenticate(f"Bearer {first}")).tenant_id == "t1"
    assert (await validator.authenticate(f"Bearer {second}")).tenant_id == "t2"


async def test_init_moves_a_local_settings_file_that_names_tid_to_a_claim_per_caller(project: Path) -> None:
    local = json.loads((project / "local.settings.json").read_text())
    local["Values"]["HERALD_AUTH_TENANT_CLAIM"] = "tid"
    (project / "local.settings.json").write_text(json.dumps(local))
    _run(project, "init")
    settings = _settings(project)  # refused, had the file kept `tid`
    assert settings.auth_tenant_claim == "azp"
    token = _last_line(_run(project, "token", "--tenant", "t"))
    assert (
        await TokenValidator(settings, jwks_source(settings)).authenticate(f"Bearer {token}")
    ).tenant_id == "t"


async def test_a_declared_single_tenant_file_keeps_tid_and_its_tokens_carry_it(project: Path) -> None:
    local = json.loads((project / "local.settings.json").read_text())
    local["Values"] |= {"HERALD_AUTH_TENANT_CLAIM": "tid", "HERALD_AUTH_SINGLE_TENANT": "true"}
    (project / "local.settings.json").write_text(json.dumps(local))
    _run(project, "init")
    settings = _settings(project)
    assert (settings.auth_tenant_claim, settings.auth_single_tenant) == ("tid", True)
    token = _last_line(_run(project, "token", "--tenant", "solo"))
    assert (
        await TokenValidator(settings, jwks_source(settings)).authenticate(f"Bearer {token}")
    ).tenant_id == "solo"
