"""Access tokens like Entra ID's, from an issuer whose keys Herald is told to trust.

Tests, benchmarks and `scripts/dev_auth.py` mint with the same code; only the issuer, the
audience and the key differ (tests make a key per run, the script keeps one on disk).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://login.herald.test/tests/v2.0"
AUDIENCE = "api://herald-tests"
KID = "test-key-1"
ALL_SCOPES = "herald.read herald.write herald.admin"
# The issuer's one directory: like Entra's `tid`, every token carries it; the tenant is `azp`.
DIRECTORY_ID = "tests-directory"
# The tenant the acceptance suite's tokens carry.
ACCEPTANCE_TENANT = "tenant-acceptance"
TOKEN_LIFETIME_SECONDS = 3600


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass(frozen=True)
class Issuer:
    """An OAuth2 issuer: its private key signs, Herald only ever sees the public JWKS."""

    key: rsa.RSAPrivateKey = field(default_factory=new_key)
    issuer: str = ISSUER
    audience: str = AUDIENCE
    kid: str = KID
    directory: str = DIRECTORY_ID

    @property
    def jwks(self) -> str:
        """The JWKS document Herald validates with (HERALD_AUTH_JWKS)."""
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return json.dumps({"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]})

    def mint(
        self,
        tenant: str,
        scopes: str = ALL_SCOPES,
        *,
        tenant_claim: str = "azp",
        lifetime: int = TOKEN_LIFETIME_SECONDS,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A token for `tenant` (in `tenant_claim`, the calling application by default) with `scopes`;
        `claims` add to or override the standard ones, `headers` the JWT header's."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "tid": self.directory,
            tenant_claim: tenant,
            "sub": "test-user",
            "scp": scopes,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
        }
        return jwt.encode(
            payload | claims, self.key, algorithm="RS256", headers={"kid": self.kid, **(headers or {})}
        )


# `mint(tenant, scopes=..., **claims)`: the `mint` fixture, an Issuer's bound `mint`.
Minter = Callable[..., str]
