"""Authentication and authorization over real HTTP: the attack table, scopes, public routes."""

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

from tests.conftest import ALL_SCOPES, AUDIENCE, ISSUER, KID, Minter


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "tid": "t-attack",
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
    return f"{header}.{_b64(_claims(tid='t-victim'))}.{signature}"


def _other_key(mint: Minter, key: rsa.RSAPrivateKey) -> str:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(_claims(), stranger, algorithm="RS256", headers={"kid": KID})


def _es256_unknown_kid(mint: Minter, key: rsa.RSAPrivateKey) -> str:
    return jwt.encode(
        _claims(), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": "nope"}
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
    "no tenant claim": lambda mint, key: mint("t", tid=None),
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
