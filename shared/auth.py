"""Bearer-token authentication: OAuth2 / OpenID Connect access tokens validated with PyJWT.

Only asymmetric algorithms are accepted, each with a key of its own type; keys come from the
issuer's JWKS (cached, refreshed when a token names an unknown `kid`, kept through an outage of
the issuer), and issuer, audience, expiry and not-before are all checked. The tenant is a claim of
the token, by default the calling application (`azp`, or `appid` in v1 tokens); permissions are
the delegated scopes (`scp`, space-separated) or the app roles (`roles`) of app-only tokens.

App portal tokens, which Herald signs itself (`shared/portal_tokens.py`), are told apart by their
issuer and go to the portal verifier instead: their principal names one application and the
capabilities granted there, and every use of one is checked against the revocations.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
import jwt

from shared.errors import ForbiddenError, ServiceUnavailableError, UnauthorizedError
from shared.scopes import Capability, Scope
from shared.settings import PORTAL_ISSUER, HeraldSettings

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

log = logging.getLogger(__name__)

ALGORITHMS = ("RS256", "ES256")
# A token naming an unknown key refreshes the JWKS at most this often (no amplification).
MIN_REFRESH_SECONDS = 30.0
JWKS_TTL_SECONDS = 3600.0
# While the issuer cannot be reached, the keys held keep serving for this long after they were
# fetched: long enough to ride out an outage, short enough that a withdrawn key stops working.
JWKS_MAX_STALE_SECONDS = 24 * 3600.0
# After a failed fetch the next one waits this long, doubling with each failure up to the cap.
JWKS_BACKOFF_SECONDS = 5.0
JWKS_MAX_BACKOFF_SECONDS = 300.0
JWKS_FETCH_TIMEOUT_SECONDS = 5.0
VALIDATED_MAX = 10_000

# A tenant id: 1-128 ASCII letters, digits, '.', '_', ':' and '-', the first a letter or digit.
# Such ids pass unchanged into Durable instance ids, partition keys and the secrets' associated
# data (no '/', '~' or '%'), and no caller can name Herald's own tenants, which start with '_' or
# '~' (`_unattributed` dead letters, the sweeper's `~herald`). Entra client ids are GUIDs.
TENANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# The claims naming the calling application: `azp` in v2 tokens, `appid` in v1 tokens.
CLIENT_CLAIMS = ("azp", "appid")


@dataclass(frozen=True)
class PortalGrant:
    """What an app portal token grants: one application of its tenant, and capabilities there."""

    app_id: str
    capabilities: frozenset[Capability]
    token_id: str
    session_id: str | None
    # Seconds since the epoch (fractional: an expire-all and a token issued in the same second
    # must still be told apart).
    issued_at: float
    expires_at: float


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    subject: str
    # For a portal token, the scopes its capabilities map onto (read; write with ManageEndpoint),
    # so that checks inside handlers treat both kinds of callers alike.
    scopes: frozenset[str]
    # Set for an app portal token: the application it is confined to, and what it may do there.
    portal: PortalGrant | None = None

    def require(self, scope: Scope) -> None:
        if scope not in self.scopes:
            raise ForbiddenError(f"This operation needs the {scope.value} scope.", scope=scope.value)

    def admit(self, scope: Scope, capability: Capability | None) -> None:
        """Refuses (403) a caller that may not use a route needing `scope` of a tenant's token and
        `capability` of a portal token (None: no portal token may use it)."""
        if self.portal is None:
            self.require(scope)
        elif capability is None:
            raise ForbiddenError("App portal tokens cannot use this operation.", scope=scope.value)
        elif capability not in self.portal.capabilities:
            raise ForbiddenError(
                f"This operation needs the {capability.value} capability.", scope=capability.value
            )


def token_header(token: str) -> dict[str, Any]:
    """A token's header, unverified: what says how to verify it (`alg`, `kid`).

    :raises UnauthorizedError: the token is malformed.
    """
    try:
        return jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise UnauthorizedError("The token is malformed.") from None


def verified_claims(
    token: str,
    key: jwt.PyJWK | EllipticCurvePublicKey,
    *,
    algorithm: str,
    audience: str | None,
    issuer: str | None,
    leeway: float,
    required: list[str],
) -> dict[str, Any]:
    """A token's claims, its signature, expiry, audience and issuer checked (bearer and portal
    tokens alike).

    :raises UnauthorizedError: a check failed; the detail says which.
    """
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=[algorithm],
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": required},
        )
    except jwt.ExpiredSignatureError:
        raise UnauthorizedError("The token has expired.") from None
    except jwt.PyJWTError as exc:
        # The library's message names the failed check, never the token itself.
        raise UnauthorizedError(f"The token is invalid: {exc}.") from None
    return claims


class PortalVerifier(Protocol):
    async def verify(self, token: str) -> Principal:
        """The principal of a portal token: its signature and claims checked; 401 otherwise."""

    async def check(self, principal: Principal) -> None:
        """401 when the portal token of `principal` has been revoked since it was verified.

        :raises ServiceUnavailableError: the revocations cannot be read.
        """


class JwksSource(Protocol):
    async def keys(self, *, refresh: bool) -> dict[str, jwt.PyJWK]:
        """The signing keys by `kid`; `refresh` asks for a fresh copy from the issuer."""


def _parse_jwks(document: object) -> dict[str, jwt.PyJWK]:
    """The signing keys of a JWKS document by `kid`: only keys of an accepted algorithm."""
    entries = document.get("keys") if isinstance(document, dict) else None
    keys: dict[str, jwt.PyJWK] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str):
            continue
        try:
            key = jwt.PyJWK(entry)
        except jwt.PyJWTError:
            log.warning("ignoring a JWKS key that cannot be used (kid %s)", kid)
            continue
        if key.algorithm_name in ALGORITHMS:
            keys[kid] = key
    return keys


class StaticJwks:
    """Keys given in settings (local development: the key pair `make run` creates)."""

    def __init__(self, document: str) -> None:
        self._keys = _parse_jwks(json.loads(document))

    async def keys(self, *, refresh: bool) -> dict[str, jwt.PyJWK]:
        return self._keys


class RemoteJwks:
    """The issuer's published keys, fetched over HTTPS and cached.

    A failed fetch keeps the keys already held (up to JWKS_MAX_STALE_SECONDS after they were
    fetched) and puts the next try off, longer after each failure, so an outage of the issuer
    neither locks callers out nor has every request knock on it. Only when no key is usable does
    a request get a 503.
    """

    def __init__(
        self,
        url: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        # None: the system's trust store (tests pass their own CA's).
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        # The earliest time of the next fetch: the refresh interval after a success, the backoff
        # after a failure.
        self._next_try = 0.0
        self._failures = 0
        self._lock = asyncio.Lock()

    async def keys(self, *, refresh: bool) -> dict[str, jwt.PyJWK]:
        """:raises ServiceUnavailableError: no key is usable and the issuer cannot be reached."""
        if self._wants_fetch(refresh=refresh):
            async with self._lock:
                # Whoever held the lock before may have fetched already.
                if self._wants_fetch(refresh=refresh):
                    await self._fetch()
        if self._fetched_at is None or self._clock() - self._fetched_at >= JWKS_MAX_STALE_SECONDS:
            retry_after = max(1, math.ceil(self._next_try - self._clock()))
            raise ServiceUnavailableError(
                "The token issuer's signing keys cannot be fetched; retry later.", retry_after=retry_after
            )
        return self._keys

    def _wants_fetch(self, *, refresh: bool) -> bool:
        now = self._clock()
        if now < self._next_try:
            return False
        return refresh or self._fetched_at is None or now - self._fetched_at >= JWKS_TTL_SECONDS

    async def _fetch(self) -> None:
        timeout = aiohttp.ClientTimeout(total=JWKS_FETCH_TIMEOUT_SECONDS)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                # A redirect could lead off https; the issuer's JWKS URL answers itself.
                session.get(self._url, ssl=self._ssl, allow_redirects=False) as resp,
            ):
                if resp.status != 200:
                    raise ValueError(f"status {resp.status}")
                keys = _parse_jwks(await resp.json(content_type=None))
            if not keys:
                # An empty or unusable set is no reason to drop the keys held.
                raise ValueError("no usable key")
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            self._failures += 1
            backoff = min(JWKS_MAX_BACKOFF_SECONDS, JWKS_BACKOFF_SECONDS * 2 ** (self._failures - 1))
            self._next_try = self._clock() + backoff
            log.warning(
                "the issuer's JWKS could not be fetched (%s); next try in %.0f s, %d keys held",
                type(exc).__name__,
                backoff,
                len(self._keys),
            )
            return
        self._keys, self._fetched_at, self._failures = keys, self._clock(), 0
        self._next_try = self._fetched_at + MIN_REFRESH_SECONDS


def jwks_source(settings: HeraldSettings) -> JwksSource | None:
    if settings.auth_jwks:
        return StaticJwks(settings.auth_jwks)
    if settings.auth_jwks_url:
        return RemoteJwks(settings.auth_jwks_url)
    return None


class TokenValidator:
    def __init__(
        self, settings: HeraldSettings, source: JwksSource | None, portal: PortalVerifier | None = None
    ) -> None:
        self._settings = settings
        self._source = source
        self._portal = portal
        # Tokens already validated, by digest, until they expire: a signature check is the
        # costliest part of most API calls, and a client sends the same token many times.
        self._validated: dict[str, tuple[float, Principal]] = {}

    async def authenticate(self, authorization: str | None) -> Principal:
        """The caller of a request with this `Authorization` header; 401 for anything else."""
        if not authorization:
            raise UnauthorizedError("A bearer token is required.", error=None)
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise UnauthorizedError("The Authorization header must be 'Bearer <token>'.")
        digest = hashlib.sha256(token.encode()).hexdigest()
        known = self._validated.get(digest)
        if known is not None and known[0] > time.time():
            principal = known[1]
        elif self._portal is not None and _issuer(token) == PORTAL_ISSUER:
            principal = await self._portal.verify(token)
            assert principal.portal is not None, "a portal token's principal carries its grant"
            self._remember(digest, principal.portal.expires_at, principal)
        else:
            principal = await self._issued(token, digest)
        if principal.portal is not None:
            # A revocation must reach a token that was valid when it was remembered.
            assert self._portal is not None
            await self._portal.check(principal)
        return principal

    def _remember(self, digest: str, expires_at: float, principal: Principal) -> None:
        if len(self._validated) >= VALIDATED_MAX:
            self._validated.clear()
        self._validated[digest] = (expires_at, principal)

    async def _issued(self, token: str, digest: str) -> Principal:
        """The caller of a token of the configured issuer."""
        if self._source is None or not self._settings.auth_issuer or not self._settings.auth_audience:
            # Fail closed: a deployment without an issuer accepts nobody.
            raise UnauthorizedError("Token validation is not configured.")
        claims = await self._decode(token)
        tenant = self._tenant(claims)
        scopes = set(str(claims.get("scp", "")).split())
        roles = claims.get("roles", [])
        if isinstance(roles, list):
            scopes.update(str(role) for role in roles)
        operators = self._settings.operator_tenants
        if operators and tenant not in operators:
            scopes.discard(Scope.OPERATOR)
        subject = str(claims.get("sub") or claims.get("oid") or "")
        principal = Principal(tenant_id=tenant, subject=subject, scopes=frozenset(scopes))
        self._remember(digest, float(claims["exp"]), principal)
        return principal

    def _tenant(self, claims: dict[str, Any]) -> str:
        """The caller's tenant id: the configured claim, in TENANT_ID's form; 401 otherwise."""
        claim = self._settings.auth_tenant_claim
        names = CLIENT_CLAIMS if claim == CLIENT_CLAIMS[0] else (claim,)
        tenant = next((claims[name] for name in names if claims.get(name) is not None), None)
        if tenant is None:
            raise UnauthorizedError(f"The token names no tenant (claim {' or '.join(names)}).")
        if not isinstance(tenant, str) or not TENANT_ID.fullmatch(tenant):
            raise UnauthorizedError(
                f"The token's {claim} claim is not a tenant id: 1-128 letters, digits, '.', '_', ':' "
                "or '-', starting with a letter or digit."
            )
        return tenant

    async def _decode(self, token: str) -> dict[str, Any]:
        assert self._source is not None
        header = token_header(token)
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ALGORITHMS:
            raise UnauthorizedError("The token's algorithm is not accepted.")
        key = await self._key(str(kid))
        if key is None:
            raise UnauthorizedError("The token is signed with an unknown key.")
        # The PyJWK itself, not its raw key: PyJWT then refuses a token whose `alg` is not the
        # key's own (an RS256 key under an ES256 header) instead of failing inside the crypto.
        return verified_claims(
            token,
            key,
            algorithm=str(algorithm),
            audience=self._settings.auth_audience,
            issuer=self._settings.auth_issuer,
            leeway=self._settings.auth_leeway_seconds,
            required=["exp", "iss", "aud"],
        )

    async def _key(self, kid: str) -> jwt.PyJWK | None:
        assert self._source is not None
        keys = await self._source.keys(refresh=False)
        if kid not in keys:
            keys = await self._source.keys(refresh=True)
        return keys.get(kid)


def _issuer(token: str) -> object:
    """The `iss` a token claims, unverified: which verifier it goes to (None when malformed)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return claims.get("iss") if isinstance(claims, dict) else None
