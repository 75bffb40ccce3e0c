"""Bearer-token authentication: OAuth2 / OpenID Connect access tokens validated with PyJWT.

Only asymmetric algorithms are accepted, keys come from the issuer's JWKS (cached, refreshed when a
token names an unknown `kid`), and issuer, audience, expiry and not-before are all checked. The
tenant is a claim of the token (`tid` by default); permissions are the delegated scopes (`scp`,
space-separated) or the app roles (`roles`) of app-only tokens.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import jwt

from shared.errors import ForbiddenError, UnauthorizedError
from shared.scopes import Scope
from shared.settings import HeraldSettings

log = logging.getLogger(__name__)

ALGORITHMS = ("RS256", "ES256")
# A token naming an unknown key refreshes the JWKS at most this often (no amplification).
MIN_REFRESH_SECONDS = 30.0
JWKS_TTL_SECONDS = 3600.0
VALIDATED_MAX = 10_000


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    subject: str
    scopes: frozenset[str]

    def require(self, scope: Scope) -> None:
        if scope not in self.scopes:
            raise ForbiddenError(f"This operation needs the {scope.value} scope.", scope=scope.value)


class JwksSource(Protocol):
    async def keys(self, *, refresh: bool) -> dict[str, jwt.PyJWK]:
        """The signing keys by `kid`; `refresh` asks for a fresh copy from the issuer."""


def _parse_jwks(document: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document.get("keys", []):
        if entry.get("use", "sig") != "sig" or "kid" not in entry:
            continue
        try:
            keys[entry["kid"]] = jwt.PyJWK(entry)
        except jwt.PyJWKError:
            log.warning("ignoring a JWKS key that cannot be used (kid %s)", entry.get("kid"))
    return keys


class StaticJwks:
    """Keys given in settings (local development: the key pair `make run` creates)."""

    def __init__(self, document: str) -> None:
        self._keys = _parse_jwks(json.loads(document))

    async def keys(self, *, refresh: bool) -> dict[str, jwt.PyJWK]:
        return self._keys


class RemoteJwks:
    """The issuer's published keys, fetched over HTTPS and cached."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def keys(self, *, refresh: bool) -> dict[str, jwt.PyJWK]:
        age = time.monotonic() - self._fetched_at
        if self._keys and age < JWKS_TTL_SECONDS and not (refresh and age >= MIN_REFRESH_SECONDS):
            return self._keys
        async with self._lock:
            if time.monotonic() - self._fetched_at >= MIN_REFRESH_SECONDS or not self._keys:
                timeout = aiohttp.ClientTimeout(total=5)
                async with aiohttp.ClientSession(timeout=timeout) as session, session.get(self._url) as resp:
                    resp.raise_for_status()
                    self._keys = _parse_jwks(await resp.json(content_type=None))
                self._fetched_at = time.monotonic()
        return self._keys


def jwks_source(settings: HeraldSettings) -> JwksSource | None:
    if settings.auth_jwks:
        return StaticJwks(settings.auth_jwks)
    if settings.auth_jwks_url:
        return RemoteJwks(settings.auth_jwks_url)
    return None


class TokenValidator:
    def __init__(self, settings: HeraldSettings, source: JwksSource | None) -> None:
        self._settings = settings
        self._source = source
        # Tokens already validated, by digest, until they expire: a signature check is the
        # costliest part of most API calls, and a client sends the same token many times.
        self._validated: dict[str, tuple[float, Principal]] = {}

    async def authenticate(self, authorization: str | None) -> Principal:
        """The caller of a request with this `Authorization` header; 401 for anything else."""
        if not authorization:
            raise UnauthorizedError("A bearer token is required.", error=None)
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthorizedError("The Authorization header must be 'Bearer <token>'.")
        if self._source is None or not self._settings.auth_issuer or not self._settings.auth_audience:
            # Fail closed: a deployment without an issuer accepts nobody.
            raise UnauthorizedError("Token validation is not configured.")
        digest = hashlib.sha256(token.strip().encode()).hexdigest()
        known = self._validated.get(digest)
        if known is not None and known[0] > time.time():
            return known[1]
        claims = await self._decode(token.strip())
        tenant = claims.get(self._settings.auth_tenant_claim)
        if not isinstance(tenant, str) or not tenant:
            raise UnauthorizedError("The token names no tenant.")
        scopes = set(str(claims.get("scp", "")).split())
        roles = claims.get("roles", [])
        if isinstance(roles, list):
            scopes.update(str(role) for role in roles)
        subject = str(claims.get("sub") or claims.get("oid") or "")
        principal = Principal(tenant_id=tenant, subject=subject, scopes=frozenset(scopes))
        if len(self._validated) >= VALIDATED_MAX:
            self._validated.clear()
        self._validated[digest] = (float(claims["exp"]), principal)
        return principal

    async def _decode(self, token: str) -> dict[str, Any]:
        assert self._source is not None
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise UnauthorizedError("The token is malformed.") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ALGORITHMS:
            raise UnauthorizedError("The token's algorithm is not accepted.")
        key = await self._key(str(kid))
        if key is None:
            raise UnauthorizedError("The token is signed with an unknown key.")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[str(algorithm)],
                audience=self._settings.auth_audience,
                issuer=self._settings.auth_issuer,
                leeway=self._settings.auth_leeway_seconds,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise UnauthorizedError("The token has expired.") from None
        except jwt.InvalidTokenError as exc:
            # The library's message names the failed check, never the token itself.
            raise UnauthorizedError(f"The token is invalid: {exc}.") from None
        return claims

    async def _key(self, kid: str) -> jwt.PyJWK | None:
        assert self._source is not None
        keys = await self._source.keys(refresh=False)
        if kid not in keys:
            try:
                keys = await self._source.keys(refresh=True)
            except (aiohttp.ClientError, TimeoutError, ValueError):
                log.warning("the issuer's JWKS could not be refreshed")
        return keys.get(kid)
