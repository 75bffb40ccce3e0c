"""App portal tokens: issued and signed by Herald, each for one application of one tenant.

A token is a compact JWS (ES256) with the claims `iss` (`PORTAL_ISSUER`), `aud`
(`PORTAL_AUDIENCE`), `sub` and `app` (the application's id), `tid` (the tenant), `cap` (the
capabilities granted, implied ones included), `ro` (only ViewBase), `sid` (the session id or null),
`jti`, `iat` (fractional seconds) and `exp`. It is presented as a bearer token on the ordinary API
routes; `blueprints/_http.py` confines it to its application and to the routes that name a
capability it holds.

Signing goes through a `PortalSigner`: locally a P-256 key from settings (`LocalPortalSigner`), in
Azure a Key Vault key that signs (`KeyVaultPortalSigner`: the vault signs a digest, the private key
never leaves it). Verification needs only public keys, which each process holds per key id (`kid`),
so verifying costs no call to the vault.

Revocations (a logout, an application's expire-all) are documents in Cosmos that every instance
reads into memory (`RevocationList`): at most one read per process per `REVOCATION_REFRESH_SECONDS`,
made only when a portal token is presented, so a revocation is refused everywhere within that time
and nothing else (the message path, tenants' tokens) ever reads them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from shared.auth import TENANT_ID, PortalGrant, Principal, token_header, verified_claims
from shared.errors import ConfigurationError, ServiceUnavailableError, UnauthorizedError
from shared.scopes import Capability, Scope
from shared.settings import PORTAL_ISSUER, HeraldSettings
from shared.store import queries
from shared.store.base import PORTAL_REVOCATIONS, DocumentStore
from shared.store.schema import RevocationDoc, app_revocation_id, token_revocation_id

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential
    from azure.keyvault.keys import JsonWebKey
    from azure.keyvault.keys.crypto.aio import CryptographyClient

log = logging.getLogger(__name__)

PORTAL_AUDIENCE = "herald-portal"
ALGORITHM = "ES256"
# The longest a token lives (Svix's bound; `AppPortalAccessIn` holds requests to it), and the default.
MAX_EXPIRY_SECONDS = 7 * 24 * 3600
DEFAULT_EXPIRY_SECONDS = MAX_EXPIRY_SECONDS
# A revocation reaches every instance within this; each instance reads revocations at most this often.
REVOCATION_REFRESH_SECONDS = 5.0
# Each read asks for what was written since the previous read began, less this margin: it covers
# clocks that differ between instances and Cosmos, and writes that replicas show late.
REVOCATION_WINDOW_SECONDS = 60.0
# A token naming a Key Vault key version this process does not hold fetches it at most this often
# (forged key ids cannot make every request call the vault).
KEY_MISS_INTERVAL_SECONDS = 30.0
# How long a process keeps signing with the key version it read as current (as the KEK does).
CURRENT_KEY_SECONDS = 3600.0
_KEY_VERSION = re.compile(r"[0-9a-f]{32}")
_P256_COORDINATE_BYTES = 32

# What each capability brings with it (Svix: managing an endpoint includes its secret, rotating a
# secret includes reading it). ViewBase comes with every token.
_IMPLIED: dict[Capability, frozenset[Capability]] = {
    Capability.MANAGE_ENDPOINT: frozenset(
        {Capability.MANAGE_ENDPOINT_SECRET, Capability.VIEW_ENDPOINT_SECRET}
    ),
    Capability.MANAGE_ENDPOINT_SECRET: frozenset({Capability.VIEW_ENDPOINT_SECRET}),
}


def granted_capabilities(requested: Iterable[str] | None, *, read_only: bool) -> frozenset[Capability]:
    """What a token grants for Svix's `capabilities` and `readOnly`.

    Read-only wins: ViewBase alone. No list: every capability Herald serves (Svix's default).
    ViewBase is always granted (Svix requires it). Names Herald does not serve (Svix's
    ManageTransformations: no transformations here) grant nothing.
    """
    if read_only:
        return frozenset({Capability.VIEW_BASE})
    served = {capability.value: capability for capability in Capability}
    names = served if requested is None else [name for name in requested if name in served]
    granted = {Capability.VIEW_BASE, *(served[name] for name in names)}
    for capability in list(granted):
        granted |= _IMPLIED.get(capability, frozenset())
    return frozenset(granted)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


# --- signers ---------------------------------------------------------------------------------------


class PortalSigner(Protocol):
    async def current_kid(self) -> str:
        """The key id new tokens are signed with.

        :raises ServiceUnavailableError: the key's holder does not answer.
        """

    async def sign(self, kid: str, signing_input: bytes) -> bytes:
        """The ES256 signature of `signing_input` by key `kid`, as JWS writes it (r || s).

        :raises ServiceUnavailableError: the key's holder does not answer.
        :raises ConfigurationError: the key does not exist.
        """

    async def public_key(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        """The public key `kid` names; None when no key of this signer has that id.

        :raises ServiceUnavailableError: the key cannot be fetched now.
        """


def _raw_signature(der: bytes) -> bytes:
    r, s = decode_dss_signature(der)
    return r.to_bytes(_P256_COORDINATE_BYTES, "big") + s.to_bytes(_P256_COORDINATE_BYTES, "big")


def load_local_key(text: str) -> ec.EllipticCurvePrivateKey:
    """The P-256 private key of HERALD_PORTAL_LOCAL_KEY (base64 of PKCS#8 DER).

    :raises ConfigurationError: it is not one (the message never quotes it).
    """
    try:
        key = serialization.load_der_private_key(base64.b64decode(text.strip(), validate=True), password=None)
    except ValueError:
        raise ConfigurationError("HERALD_PORTAL_LOCAL_KEY is not a base64 PKCS#8 private key.") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ConfigurationError("HERALD_PORTAL_LOCAL_KEY must be a P-256 (secp256r1) key.")
    return key


class LocalPortalSigner:
    """A P-256 key given in settings (local development and tests); its id derives from it."""

    def __init__(self, key_text: str) -> None:
        self._key = load_local_key(key_text)
        self._public = self._key.public_key()
        spki = self._public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._kid = "local-" + hashlib.sha256(spki).hexdigest()[:16]

    async def current_kid(self) -> str:
        return self._kid

    async def sign(self, kid: str, signing_input: bytes) -> bytes:
        return _raw_signature(self._key.sign(signing_input, ec.ECDSA(hashes.SHA256())))

    async def public_key(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        return self._public if kid == self._kid else None


async def _vault[T](call: Awaitable[T]) -> T:
    """The vault's answer; a missing key is a configuration error, any other failure a 503."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return await call
    except ResourceNotFoundError:
        raise ConfigurationError("The portal signing key (HERALD_PORTAL_KEY_NAME) does not exist.") from None
    except Exception as exc:  # the vault refuses or is unreachable, or the identity gets no token
        log.warning("the key vault did not sign or read the portal key: %s", type(exc).__name__)
        raise ServiceUnavailableError("The key vault is unavailable, retry later.") from exc


def _ec_public(key: JsonWebKey) -> ec.EllipticCurvePublicKey:
    # JsonWebKey sets its fields from the vault's answer, unknown to the type checker.
    x, y, curve = (getattr(key, name, None) for name in ("x", "y", "crv"))
    if not isinstance(x, bytes) or not isinstance(y, bytes) or curve != "P-256":
        raise ConfigurationError("The portal signing key must be an EC P-256 key.")
    return ec.EllipticCurvePublicNumbers(
        int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
    ).public_key()


class KeyVaultPortalSigner:
    """A Key Vault key (EC P-256, operation `sign` only) that signs digests inside the vault.

    Key ids are the key's versions. Each version's public key is read once per process and kept
    (versions never change); the current version is read again every CURRENT_KEY_SECONDS, so a
    rotation reaches every instance within that, and tokens of the older version still verify.
    """

    def __init__(
        self,
        vault_url: str,
        key_name: str,
        *,
        credential: AsyncTokenCredential | None = None,
        clock: Callable[[], float] = time.monotonic,
        **client_options: Any,
    ) -> None:
        from azure.keyvault.keys.aio import KeyClient

        from shared.keyvault import _default_credential

        self._client = KeyClient(vault_url, credential or _default_credential(), **client_options)
        self._name = key_name
        self._clock = clock
        self._crypto: dict[str, CryptographyClient] = {}
        self._public: dict[str, ec.EllipticCurvePublicKey] = {}
        self._current: tuple[str, float] | None = None
        self._missed_at = -math.inf
        self._lock = asyncio.Lock()

    async def current_kid(self) -> str:
        current = self._current
        if current is None or self._clock() - current[1] >= CURRENT_KEY_SECONDS:
            async with self._lock:
                current = self._current
                if current is None or self._clock() - current[1] >= CURRENT_KEY_SECONDS:
                    key = await _vault(self._client.get_key(self._name))
                    version = key.properties.version
                    if not version:
                        raise ServiceUnavailableError("The key vault named no key version, retry later.")
                    self._public[version] = _ec_public(key.key)
                    current = self._current = (version, self._clock())
        return current[0]

    async def sign(self, kid: str, signing_input: bytes) -> bytes:
        from azure.keyvault.keys.crypto import SignatureAlgorithm

        crypto = self._crypto.get(kid)
        if crypto is None:
            crypto = self._crypto[kid] = self._client.get_cryptography_client(self._name, key_version=kid)
        digest = hashlib.sha256(signing_input).digest()
        result = await _vault(crypto.sign(SignatureAlgorithm.es256, digest))
        return bytes(result.signature)

    async def public_key(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        known = self._public.get(kid)
        if known is not None or not _KEY_VERSION.fullmatch(kid):
            return known
        # Most often the current version (a process that has signed nothing yet, or a rotation):
        # it is read at most once an hour anyway.
        if kid == await self.current_kid():
            return self._public[kid]
        if self._clock() - self._missed_at < KEY_MISS_INTERVAL_SECONDS:
            retry_after = math.ceil(KEY_MISS_INTERVAL_SECONDS - (self._clock() - self._missed_at))
            raise ServiceUnavailableError(
                "The token's signing key cannot be read now.", retry_after=retry_after
            )
        self._missed_at = self._clock()
        from azure.core.exceptions import ResourceNotFoundError

        try:
            key = await self._client.get_key(self._name, kid)
        except ResourceNotFoundError:
            return None
        except Exception as exc:
            log.warning("the key vault did not read a portal key version: %s", type(exc).__name__)
            raise ServiceUnavailableError("The key vault is unavailable, retry later.") from exc
        public = self._public[kid] = _ec_public(key.key)
        return public

    async def close(self) -> None:
        await self._client.close()


def portal_signer(settings: HeraldSettings) -> PortalSigner | None:
    """The deployment's signer: the vault's key in Azure, the local key otherwise; None: neither."""
    if settings.keyvault_url:
        return KeyVaultPortalSigner(settings.keyvault_url, settings.portal_key_name)
    if settings.portal_local_key:
        return LocalPortalSigner(settings.portal_local_key)
    return None


# --- revocations -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Revocation:
    """One logout (`token_id`) or one expire-all of an application (of `session_ids`, or all)."""

    id: str
    tenant_id: str
    app_id: str
    token_id: str | None
    session_ids: frozenset[str] | None
    # An expire-all reaches tokens issued before this, from `effective_at` on (its grace period).
    issued_before: float
    effective_at: float
    # No token it reaches is valid after this: the record is forgotten then.
    until: float

    def reaches(self, tenant_id: str, grant: PortalGrant, now: float) -> bool:
        if tenant_id != self.tenant_id or grant.app_id != self.app_id or now < self.effective_at:
            return False
        if self.token_id is not None:
            return grant.token_id == self.token_id
        if self.session_ids is not None and grant.session_id not in self.session_ids:
            return False
        return grant.issued_at < self.issued_before

    def to_doc(self, now: float) -> RevocationDoc:
        return {
            "id": self.id,
            "tenantId": self.tenant_id,
            "appId": self.app_id,
            "tokenId": self.token_id,
            "sessionIds": sorted(self.session_ids) if self.session_ids is not None else None,
            "issuedBefore": self.issued_before,
            "effectiveAt": self.effective_at,
            "until": self.until,
            # Cosmos forgets it once it reaches nothing (the local server keeps it; `until` decides).
            "ttl": max(1, math.ceil(self.until - now)),
        }

    @classmethod
    def from_doc(cls, doc: RevocationDoc) -> Revocation:
        sessions = doc.get("sessionIds")
        return cls(
            id=str(doc["id"]),
            tenant_id=str(doc["tenantId"]),
            app_id=str(doc["appId"]),
            token_id=doc.get("tokenId"),
            session_ids=frozenset(sessions) if sessions is not None else None,
            issued_before=float(doc["issuedBefore"]),
            effective_at=float(doc["effectiveAt"]),
            until=float(doc["until"]),
        )


class RevocationList:
    """Every revocation still in force, held in memory and read again at most every
    REVOCATION_REFRESH_SECONDS, only when a portal token is checked.

    The first read takes every record still in force, each later one what was written since the
    previous read began (less REVOCATION_WINDOW_SECONDS): one query each. While a read fails,
    portal tokens are refused with a 503 rather than let through unchecked.
    """

    def __init__(
        self,
        store: DocumentStore,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._clock = clock
        self._monotonic = monotonic
        self._tokens: dict[str, Revocation] = {}
        self._apps: dict[tuple[str, str], dict[str, Revocation]] = {}
        self._read_at = -math.inf
        # Wall time of the previous read's start; None before the first.
        self._previous_start: float | None = None
        self._failed = False
        self._lock = asyncio.Lock()

    def revoked(self, tenant_id: str, grant: PortalGrant) -> bool:
        now = self._clock()
        by_token = self._tokens.get(grant.token_id)
        if by_token is not None and by_token.reaches(tenant_id, grant, now):
            return True
        return any(
            r.reaches(tenant_id, grant, now) for r in self._apps.get((tenant_id, grant.app_id), {}).values()
        )

    async def fresh(self) -> None:
        """Reads the revocations when the last read is REVOCATION_REFRESH_SECONDS old.

        :raises ServiceUnavailableError: the last read failed (retried once that time has passed).
        """
        if self._monotonic() - self._read_at >= REVOCATION_REFRESH_SECONDS:
            async with self._lock:
                # Whoever held the lock before may have read already.
                if self._monotonic() - self._read_at >= REVOCATION_REFRESH_SECONDS:
                    await self._read()
        if self._failed:
            retry_after = max(1, math.ceil(REVOCATION_REFRESH_SECONDS - (self._monotonic() - self._read_at)))
            raise ServiceUnavailableError("Revocations cannot be read; retry later.", retry_after=retry_after)

    async def _read(self) -> None:
        self._read_at = self._monotonic()
        started = self._clock()
        try:
            if self._previous_start is None:
                rows = await queries.revocations_in_force(self._store, started)
            else:
                since = math.floor(self._previous_start - REVOCATION_WINDOW_SECONDS)
                rows = await queries.revocations_written_since(self._store, since)
        except ServiceUnavailableError:
            self._failed = True
            raise
        self._failed = False
        self._previous_start = started
        for row in rows:
            self.add(Revocation.from_doc(row))
        self._forget_before(started)

    def add(self, revocation: Revocation) -> None:
        if revocation.token_id is not None:
            self._tokens[revocation.token_id] = revocation
        else:
            self._apps.setdefault((revocation.tenant_id, revocation.app_id), {})[revocation.id] = revocation

    def _forget_before(self, now: float) -> None:
        self._tokens = {key: r for key, r in self._tokens.items() if r.until > now}
        apps: dict[tuple[str, str], dict[str, Revocation]] = {}
        for key, records in self._apps.items():
            live = {rid: r for rid, r in records.items() if r.until > now}
            if live:
                apps[key] = live
        self._apps = apps

    async def record(self, revocation: Revocation) -> None:
        """Stores a revocation; this process refuses what it reaches at once, the others within
        REVOCATION_REFRESH_SECONDS."""
        await self._store.upsert(PORTAL_REVOCATIONS, revocation.to_doc(self._clock()))
        self.add(revocation)


# --- issuing and verifying -------------------------------------------------------------------------


def _scopes_of(capabilities: frozenset[Capability]) -> frozenset[str]:
    """The scopes a grant maps onto, for the checks inside handlers (e.g. header values)."""
    scopes = {Scope.READ.value}
    if Capability.MANAGE_ENDPOINT in capabilities:
        scopes.add(Scope.WRITE.value)
    return frozenset(scopes)


class PortalTokens:
    """Issues app portal tokens, verifies them (`shared.auth.PortalVerifier`), and revokes them."""

    def __init__(
        self,
        signer: PortalSigner | None,
        revocations: RevocationList,
        *,
        leeway_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._signer = signer
        self._revocations = revocations
        self._leeway = leeway_seconds
        self._clock = clock

    def _configured(self) -> PortalSigner:
        if self._signer is None:
            raise ConfigurationError(
                "App portal access is not configured: set HERALD_KEYVAULT_URL (Azure) or "
                "HERALD_PORTAL_LOCAL_KEY (local)."
            )
        return self._signer

    async def issue(
        self,
        tenant_id: str,
        app_id: str,
        capabilities: frozenset[Capability],
        *,
        session_id: str | None,
        expiry_seconds: int,
    ) -> str:
        """A signed token for `app_id` of `tenant_id`, valid `expiry_seconds`.

        :raises ConfigurationError: no signing key is configured, or it does not exist.
        :raises ServiceUnavailableError: the key's holder does not answer.
        """
        signer = self._configured()
        now = self._clock()
        kid = await signer.current_kid()
        claims = {
            "iss": PORTAL_ISSUER,
            "aud": PORTAL_AUDIENCE,
            "sub": app_id,
            "tid": tenant_id,
            "app": app_id,
            "cap": [capability.value for capability in Capability if capability in capabilities],
            "ro": capabilities == {Capability.VIEW_BASE},
            "sid": session_id,
            "jti": uuid.uuid4().hex,
            # Milliseconds: an expire-all must tell the tokens issued just before it from those
            # issued just after it.
            "iat": round(now, 3),
            "exp": int(now + expiry_seconds),
        }
        header = {"alg": ALGORITHM, "typ": "JWT", "kid": kid}
        signing_input = f"{_b64url(_json(header))}.{_b64url(_json(claims))}"
        signature = await signer.sign(kid, signing_input.encode())
        return f"{signing_input}.{_b64url(signature)}"

    async def verify(self, token: str) -> Principal:
        header = token_header(token)
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise UnauthorizedError("The token's algorithm or key id is not accepted.")
        if self._signer is None:
            raise UnauthorizedError("App portal tokens are not accepted here.")
        key = await self._signer.public_key(kid)
        if key is None:
            raise UnauthorizedError("The token is signed with an unknown key.")
        claims = verified_claims(
            token,
            key,
            algorithm=ALGORITHM,
            audience=PORTAL_AUDIENCE,
            issuer=PORTAL_ISSUER,
            leeway=self._leeway,
            required=["exp", "iat", "iss", "aud", "jti", "tid", "app", "cap"],
        )
        return self._principal(claims)

    @staticmethod
    def _principal(claims: dict[str, Any]) -> Principal:
        """The caller a verified token names. Herald wrote these claims; anything else is a 401."""
        tenant, app, caps, sid, jti = (claims.get(k) for k in ("tid", "app", "cap", "sid", "jti"))
        served = {capability.value for capability in Capability}
        if (
            not isinstance(tenant, str)
            or not TENANT_ID.fullmatch(tenant)
            or not isinstance(app, str)
            or not app.startswith("app_")
            or not isinstance(caps, list)
            or not all(isinstance(c, str) and c in served for c in caps)
            or not isinstance(jti, str)
            or not (sid is None or isinstance(sid, str))
        ):
            raise UnauthorizedError("The token's claims are not a portal grant.")
        capabilities = granted_capabilities(caps, read_only=False)
        grant = PortalGrant(
            app_id=app,
            capabilities=capabilities,
            token_id=jti,
            session_id=sid,
            issued_at=float(claims["iat"]),
            expires_at=float(claims["exp"]),
        )
        return Principal(tenant_id=tenant, subject=app, scopes=_scopes_of(capabilities), portal=grant)

    async def check(self, principal: Principal) -> None:
        grant = principal.portal
        if grant is None:
            return
        await self._revocations.fresh()
        if self._revocations.revoked(principal.tenant_id, grant):
            raise UnauthorizedError("The token has been revoked.")

    async def log_out(self, principal: Principal) -> None:
        """Revokes the portal token `principal` presented."""
        grant = principal.portal
        assert grant is not None
        revocation = Revocation(
            id=token_revocation_id(grant.token_id),
            tenant_id=principal.tenant_id,
            app_id=grant.app_id,
            token_id=grant.token_id,
            session_ids=None,
            issued_before=grant.issued_at,
            effective_at=0.0,
            until=grant.expires_at + self._leeway,
        )
        await self._revocations.record(revocation)

    async def expire_all(
        self, tenant_id: str, app_id: str, *, session_ids: frozenset[str] | None, grace_seconds: int
    ) -> None:
        """Revokes the application's tokens issued until now (of `session_ids` only, when given),
        after `grace_seconds`."""
        now = self._clock()
        effective_at = now + grace_seconds
        revocation = Revocation(
            id=app_revocation_id(),
            tenant_id=tenant_id,
            app_id=app_id,
            token_id=None,
            session_ids=session_ids,
            issued_before=now,
            effective_at=effective_at,
            until=max(effective_at, now + MAX_EXPIRY_SECONDS) + self._leeway,
        )
        await self._revocations.record(revocation)
