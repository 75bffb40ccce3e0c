"""Authentication and authorization over real HTTP: the attack table, scopes, public routes.

Every forged, invalid or unusable token is a 401 (never a 500): bad signatures and algorithms,
keys of the wrong type for the token's `alg`, and tenant claims Herald cannot use as a tenant id.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shared.auth import StaticJwks, TokenValidator
from shared.scopes import Scope
from shared.settings import HeraldSettings
from tests.support.tokens import ALL_SCOPES, AUDIENCE, ISSUER, KID, Minter


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "tid": "t-directory",
        "azp": "t-attack",
        "scp": ALL_SCOPES,
        "exp": now + 600,
    } | overrides


def _alg_none(mint: Minter, key: rsa.RSAPrivateKey) -> str:
    return f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': KID})}.{_b64(_claims())}."


def _hs256_with_public_key(mint: Minter, key: rsa.RSAPrivateKey) -> str:
    # The classic confusion attack: the public key (which is public) used as an HMAC secret.
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": KID}
    signing_input = f"{_b64(header)}.{_b64(_claims())}"
    import hashlib
    import hmac

    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def _tampered(mint: Minter, key: rsa.RSAPrivateKey) -> str:
    header, _, signature = mint("t-honest", "herald.read").split(".")
    return f"{header}.{_b64(_claims(azp='t-victim'))}.{signature}"


def _other_key(mint: Minter, key: rsa.RSAPrivateKey) -> str:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(_claims(), stranger, algorithm="RS256", headers={"kid": KID})


def _es256_unknown_kid(mint: Minter, key: rsa.RSAPrivateKey) -> str:
    return jwt.encode(
        _claims(), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": "nope"}
    )


def _es256_under_the_rsa_kid(mint: Minter, key: rsa.RSAPrivateKey) -> str:
    # An accepted algorithm, a known kid, but the key behind the kid is RSA: not a key for ES256.
    return jwt.encode(
        _claims(), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": KID}
    )


ATTACKS: dict[str, Callable[[Minter, rsa.RSAPrivateKey], str]] = {
    "alg none": _alg_none,
    "HS256 signed with the public key": _hs256_with_public_key,
    "expired": lambda mint, key: mint("t", exp=int(time.time()) - 3600),
    "not yet valid": lambda mint, key: mint("t", nbf=int(time.time()) + 3600),
    "wrong audience": lambda mint, key: mint("t", aud="api://someone-else"),
    "wrong issuer": lambda mint, key: mint("t", iss="https://evil.example.com/"),
    "unknown kid": lambda mint, key: mint("t", headers={"kid": "rotated-away"}),
    "tampered payload": _tampered,
    "signed by another key": _other_key,
    "ES256 with an unknown key": _es256_unknown_kid,
    "ES256 header on an RSA key": _es256_under_the_rsa_kid,
    "no tenant claim": lambda mint, key: mint("t", azp=None),
    # Tenant claims that are no tenant id: Herald's own tenants, and what would not pass unchanged
    # into partition keys, Durable instance ids and the secrets' associated data.
    "the dead letters' reserved tenant": lambda mint, key: mint("_unattributed"),
    "the sweeper's reserved tenant": lambda mint, key: mint("~herald"),
    "a tenant starting with an underscore": lambda mint, key: mint("_operational"),
    "a tenant with a slash": lambda mint, key: mint("acme/../other"),
    "a tenant with a percent escape": lambda mint, key: mint("acme%2Fother"),
    "a tenant with a tilde": lambda mint, key: mint("acme~dlv"),
    "a tenant with a space": lambda mint, key: mint("acme corp"),
    "a tenant with a control character": lambda mint, key: mint("acme\u0000"),
    "a tenant with non-ASCII letters": lambda mint, key: mint("acmé"),
    "a tenant of 129 characters": lambda mint, key: mint("a" * 129),
    "an empty tenant": lambda mint, key: mint(""),
    "a tenant that is a number": lambda mint, key: mint("t", azp=42),
    "a tenant that is a list": lambda mint, key: mint("t", azp=["a", "b"]),
    "not a JWT": lambda mint, key: "definitely-not-a-jwt",
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_every_forged_or_invalid_token_is_401(
    attack: str, herald_url: str, mint: Minter, signing_key: rsa.RSAPrivateKey
) -> None:
    token = ATTACKS[attack](mint, signing_key)
    response = httpx.get(f"{herald_url}/api/v1/app", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith('Bearer realm="herald", error="invalid_token"')
    assert token not in response.text


@pytest.mark.parametrize("header", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Token abc"])
def test_missing_or_non_bearer_credentials_are_401(herald_url: str, header: str | None) -> None:
    headers = {} if header is None else {"authorization": header}
    response = httpx.post(f"{herald_url}/api/v1/app", json={"name": "x"}, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="herald"')
    assert response.json()["code"] == "unauthorized"


def test_scopes_gate_reads_writes_and_admin(herald_url: str, mint: Minter) -> None:
    reader = {"authorization": f"Bearer {mint('t-scopes', 'herald.read')}"}
    writer = {"authorization": f"Bearer {mint('t-scopes', 'herald.write')}"}
    assert httpx.get(f"{herald_url}/api/v1/app", headers=reader).status_code == 200
    denied = httpx.post(f"{herald_url}/api/v1/app", json={"name": "x"}, headers=reader)
    assert denied.status_code == 403 and denied.json()["code"] == "forbidden"
    assert 'error="insufficient_scope", scope="herald.write"' in denied.headers["www-authenticate"]
    assert httpx.post(f"{herald_url}/api/v1/app", json={"name": "x"}, headers=writer).status_code == 201
    assert httpx.get(f"{herald_url}/api/v1/app", headers=writer).status_code == 403
    event_type = {"name": "t.created", "description": "d"}
    assert httpx.post(f"{herald_url}/api/v1/event-type", json=event_type, headers=writer).status_code == 403
    assert httpx.get(f"{herald_url}/api/v1/dead-letter", headers=reader).status_code == 403


def test_app_only_tokens_carry_roles_instead_of_scopes(herald_url: str, mint: Minter) -> None:
    token = mint("t-daemon", "", roles=["herald.read", "herald.write"])
    created = httpx.post(
        f"{herald_url}/api/v1/app", json={"name": "daemon app"}, headers={"authorization": f"Bearer {token}"}
    )
    assert created.status_code == 201


def test_public_routes_need_no_token(herald_url: str) -> None:
    assert httpx.get(f"{herald_url}/api/v1/health").json() == {"status": "ok"}
    assert httpx.get(f"{herald_url}/api/v1/health/ready").json()["status"] == "ok"


def test_a_tenant_claim_that_is_no_tenant_id_says_why(herald_url: str, mint: Minter) -> None:
    token = mint("acme/other")
    response = httpx.get(f"{herald_url}/api/v1/app", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "not a tenant id" in response.json()["detail"]
    assert "letters, digits" in response.headers["www-authenticate"]


def test_the_longest_tenant_id_and_v1_tokens_appid_are_tenants(herald_url: str, mint: Minter) -> None:
    longest = "a" * 127 + "Z"
    response = httpx.get(f"{herald_url}/api/v1/app", headers={"authorization": f"Bearer {mint(longest)}"})
    assert response.status_code == 200, response.text
    # v1 tokens name the calling application `appid`; it is the tenant when there is no `azp`.
    v1 = {"authorization": f"Bearer {mint('unused', azp=None, appid='v1-caller')}"}
    created = httpx.post(f"{herald_url}/api/v1/app", json={"name": "v1 app"}, headers=v1)
    assert created.status_code == 201, created.text
    v2 = {"authorization": f"Bearer {mint('v1-caller')}"}
    assert httpx.get(f"{herald_url}/api/v1/app/{created.json()['id']}", headers=v2).status_code == 200


def test_metrics_need_the_operator_permission_no_tenant_token_carries(herald_url: str, mint: Minter) -> None:
    tenant_admin = {"authorization": f"Bearer {mint('t-metrics', ALL_SCOPES)}"}
    denied = httpx.get(f"{herald_url}/api/v1/metrics", headers=tenant_admin)
    assert denied.status_code == 403, denied.text
    assert 'error="insufficient_scope", scope="herald.operator"' in denied.headers["www-authenticate"]
    assert "herald_" not in denied.text
    operator = {"authorization": f"Bearer {mint('t-platform', '', roles=['herald.operator'])}"}
    allowed = httpx.get(f"{herald_url}/api/v1/metrics", headers=operator)
    assert allowed.status_code == 200
    assert allowed.headers["content-type"].startswith("text/plain")


async def test_an_operator_list_keeps_the_permission_to_the_tenants_it_names(
    settings: HeraldSettings, jwks: str, mint: Minter
) -> None:
    listed = HeraldSettings(**settings.model_dump() | {"operator_tenants": "platform-ops, sre"})
    assert listed.operator_tenants == ["platform-ops", "sre"]
    validator = TokenValidator(listed, StaticJwks(jwks))
    operator = await validator.authenticate(f"Bearer {mint('sre', '', roles=['herald.operator'])}")
    assert Scope.OPERATOR in operator.scopes
    # A tenant the role was assigned to by mistake: the list is the second lock.
    other = await validator.authenticate(f"Bearer {mint('t-else', 'herald.read herald.operator')}")
    assert other.scopes == {"herald.read"}
