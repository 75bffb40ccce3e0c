"""Herald's test settings and tokens outside pytest, for the load benchmarks in bench/.

The same issuer, audience and claims as tests/conftest.py's fixtures, with a key pair made here.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Callable

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import ALL_SCOPES, AUDIENCE, EMULATOR_KEY, ISSUER, KID

Mint = Callable[[str], str]


def standalone_herald() -> tuple[dict[str, str], Mint]:
    """Herald's app settings for a host of one's own (emulator addresses still to be set), and a
    function that mints a tenant's token for it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = json.dumps({"keys": [{**public, "kid": KID, "use": "sig", "alg": "RS256"}]})

    def mint(tenant: str) -> str:
        now = int(time.time())
        claims: dict[str, str | int] = {"iss": ISSUER, "aud": AUDIENCE, "azp": tenant, "sub": "bench"}
        claims["scp"] = ALL_SCOPES
        # Valid for a day: a benchmark outlives the fixtures' one-hour tokens.
        claims |= {"iat": now, "nbf": now, "exp": now + 86400}
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})

    env = {
        "TASK_HUB_NAME": f"heraldbench{uuid.uuid4().hex[:6]}",
        "HERALD_COSMOS_KEY": EMULATOR_KEY,
        "HERALD_COSMOS_VERIFY_TLS": "false",
        "HERALD_COSMOS_CREATE_CONTAINERS": "true",
        "HERALD_DELIVERY_ALLOWED_CIDRS": "127.0.0.0/8,::1/128",
        "HERALD_AUTH_ISSUER": ISSUER,
        "HERALD_AUTH_AUDIENCE": AUDIENCE,
        "HERALD_AUTH_JWKS": jwks,
        "HERALD_LOCAL_KEK": base64.b64encode(os.urandom(32)).decode(),
        "HERALD_DELIVERY_ALLOW_HTTP": "true",
    }
    return env, mint
