"""App portal tokens: Herald signs them, each reaches one application and only the routes that name a
capability it holds, and a revocation is refused on every instance within 5 s.

- Signing and verifying: forged, altered, expired or foreign tokens are a 401; a portal token never
  passes for a tenant's token nor one of the configured issuer for a portal token. Locally a P-256
  key from settings signs; in Azure a Key Vault key does (`FakeKeyVault`, at the SDK's transport):
  the vault signs each token, and verifying asks it nothing.
- Revocations: read from Cosmos at most once per 5 s per process, refused at once by the process
  that recorded them; a store that cannot be read refuses portal tokens (503), never admits them.
- Deny by default: every registered route is called with portal tokens; only those declared with a
  capability admit one, and only for its own application (another one is a 404, as a missing one).
- Two devhosts on the same emulators: revocations made on one reach the other within 5 s, with at
  most one revocation read per 5 s there and none while it delivers a message; no token in its log.
- `make run` writes the local signing key once, owner-only, beside the dev-token key.

Cost: about 20 s, most of it the second host (its start, then one revocation interval: the
revocations all wait for it together) and the walk over every route (about 300 requests).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from azure.identity.aio import ClientSecretCredential
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from prometheus_client.parser import text_string_to_metric_families

import function_app  # noqa: F401 (registers every route, as the host does)
from blueprints._http import ROUTES
from devhost.testing import run_devhost
from shared import portal_tokens
from shared.auth import StaticJwks, TokenValidator
from shared.errors import ConfigurationError, ServiceUnavailableError, UnauthorizedError
from shared.portal_tokens import (
    KeyVaultPortalSigner,
    LocalPortalSigner,
    PortalTokens,
    RevocationList,
    granted_capabilities,
)
from shared.scopes import Capability, Scope
from shared.settings import PORTAL_ISSUER, HeraldSettings
from shared.store.base import PORTAL_REVOCATIONS
from shared.store.cosmos import CosmosStore
from tests.security.fake_keyvault import TENANT_ID, VAULT_URL, FakeKeyVault
from tests.support.receivers import running_receiver
from tests.support.settings import ROOT, portal_key
from tests.support.tokens import AUDIENCE, ISSUER, Minter

ALL = frozenset(Capability)
SIGNING_KEY = "herald-portal-signing-key"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


class CountingStore(CosmosStore):
    """The session's Cosmos store, counting the cross-partition reads (the revocation reads)."""

    def __init__(self, inner: CosmosStore) -> None:
        self.__dict__.update(inner.__dict__)
        self.reads = 0

    async def query_across(self, container: str, **options: Any) -> list[Any]:
        if container == PORTAL_REVOCATIONS:
            self.reads += 1
        return await super().query_across(container, **options)


class TwoClocks:
    """Wall and monotonic time a test moves on by hand, each on its own.

    The wall clock may move less than REVOCATION_WINDOW_SECONDS: Cosmos stamps documents with its
    own time, and revocation reads ask for what it stamped since the previous read.
    """

    def __init__(self) -> None:
        self.wall_offset = 0.0
        self.mono_offset = 0.0

    def wall(self) -> float:
        return time.time() + self.wall_offset

    def monotonic(self) -> float:
        return time.monotonic() + self.mono_offset


# --- capabilities ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "read_only", "granted"),
    [
        # Svix's default: every capability (Herald serves five of Svix's six).
        (None, False, ALL),
        # Read-only wins over any list.
        (["ManageEndpoint"], True, {Capability.VIEW_BASE}),
        # ViewBase comes with every token; ManageTransformations grants nothing here.
        ([], False, {Capability.VIEW_BASE}),
        (["ManageTransformations"], False, {Capability.VIEW_BASE}),
        # Rotating a secret includes reading it; managing an endpoint includes both.
        (
            ["ManageEndpointSecret"],
            False,
            {Capability.VIEW_BASE, Capability.VIEW_ENDPOINT_SECRET, Capability.MANAGE_ENDPOINT_SECRET},
        ),
        (["ManageEndpoint"], False, ALL - {Capability.CREATE_ATTEMPTS}),
        (["CreateAttempts"], False, {Capability.VIEW_BASE, Capability.CREATE_ATTEMPTS}),
    ],
)
def test_the_capabilities_a_request_grants(
    requested: list[str] | None, read_only: bool, granted: set[Capability]
) -> None:
    assert granted_capabilities(requested, read_only=read_only) == granted


# --- signing and verifying -------------------------------------------------------------------------


@pytest.fixture
def local_key() -> str:
    return portal_key()


@pytest.fixture
def tokens(local_key: str, store: CosmosStore) -> PortalTokens:
    return PortalTokens(LocalPortalSigner(local_key), RevocationList(store), leeway_seconds=60)


@pytest.fixture
def validator(settings: HeraldSettings, jwks: str, tokens: PortalTokens) -> TokenValidator:
    """The API's token validator: the test issuer's keys, and the portal's verifier."""
    return TokenValidator(settings, StaticJwks(jwks), portal=tokens)


def _private(key_text: str) -> ec.EllipticCurvePrivateKey:
    return portal_tokens.load_local_key(key_text)


def _resigned(token: str, key: ec.EllipticCurvePrivateKey, **changes: Any) -> str:
    """The token's claims with `changes` (None removes a claim), signed by `key` under its kid."""
    claims = {k: v for k, v in (_claims(token) | changes).items() if v is not None}
    return jwt.encode(
        claims, key, algorithm="ES256", headers={"kid": jwt.get_unverified_header(token)["kid"]}
    )


async def test_a_token_names_one_application_of_one_tenant_and_verifies_with_the_public_key(
    tokens: PortalTokens, validator: TokenValidator, local_key: str
) -> None:
    token = await tokens.issue(
        "tenant-p",
        "app_1",
        granted_capabilities(["ViewEndpointSecret"], read_only=False),
        session_id="s-1",
        expiry_seconds=3600,
    )
    # An independent judge: PyJWT with the public half only.
    claims = jwt.decode(
        token,
        _private(local_key).public_key(),
        algorithms=["ES256"],
        audience="herald-portal",
        issuer=PORTAL_ISSUER,
    )
    assert (claims["tid"], claims["app"], claims["sid"], claims["ro"]) == ("tenant-p", "app_1", "s-1", False)
    assert claims["cap"] == ["ViewBase", "ViewEndpointSecret"]
    assert claims["exp"] - claims["iat"] == pytest.approx(3600, abs=1)
    principal = await validator.authenticate(f"Bearer {token}")
    assert principal.tenant_id == "tenant-p" and principal.portal is not None
    assert principal.portal.app_id == "app_1" and principal.portal.session_id == "s-1"
    assert principal.portal.capabilities == {Capability.VIEW_BASE, Capability.VIEW_ENDPOINT_SECRET}
    # Its capabilities map onto the scopes handlers check: reading, and writing only to manage endpoints.
    assert principal.scopes == {Scope.READ}
    manager = await tokens.issue("tenant-p", "app_1", ALL, session_id=None, expiry_seconds=3600)
    assert (await validator.authenticate(f"Bearer {manager}")).scopes == {Scope.READ, Scope.WRITE}
    read_only = await tokens.issue(
        "tenant-p", "app_1", granted_capabilities(None, read_only=True), session_id=None, expiry_seconds=3600
    )
    assert _claims(read_only)["ro"] is True and _claims(read_only)["cap"] == ["ViewBase"]


def _hs256(signing_input: str, secret: bytes) -> str:
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def _forgeries(token: str, key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    header, payload, signature = token.split(".")
    claims = _claims(token)
    other = ec.generate_private_key(ec.SECP256R1())
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = jwt.get_unverified_header(token)["kid"]
    return {
        "another application, same signature": f"{header}.{_b64({**claims, 'app': 'app_2'})}.{signature}",
        "signed by another key under the same kid": _resigned(token, other),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{payload}.",
        # The public key used as an HMAC secret: the classic confusion.
        "HS256 with the public key": _hs256(
            f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{payload}", public_pem
        ),
        "an unknown kid": jwt.encode(
            claims, key, algorithm="ES256", headers={"kid": "local-0000000000000000"}
        ),
        "expired beyond the leeway": _resigned(token, key, exp=int(time.time()) - 120),
        "another audience": _resigned(token, key, aud=AUDIENCE),
        "no jti": _resigned(token, key, jti=None),
        "a capability Herald does not grant": _resigned(
            token, key, cap=["ViewBase", "ManageTransformations"]
        ),
        "a tenant Herald keeps for itself": _resigned(token, key, tid="~herald"),
        "not an application id": _resigned(token, key, app="../other"),
        "garbage": "not.a.token",
    }


async def test_forged_altered_expired_or_foreign_portal_tokens_are_refused(
    tokens: PortalTokens, validator: TokenValidator, local_key: str
) -> None:
    token = await tokens.issue("tenant-p", "app_1", ALL, session_id=None, expiry_seconds=3600)
    await validator.authenticate(f"Bearer {token}")
    forgeries = _forgeries(token, _private(local_key))
    refused = []
    for what, forged in forgeries.items():
        try:
            await validator.authenticate(f"Bearer {forged}")
        except UnauthorizedError:
            refused.append(what)
    assert refused == list(forgeries)


async def test_neither_issuer_stands_in_for_the_other(
    tokens: PortalTokens, settings: HeraldSettings, jwks: str, mint: Minter, local_key: str
) -> None:
    # The test issuer's key cannot make a portal token: its kid is no portal key.
    posing = mint("tenant-p", iss=PORTAL_ISSUER, aud="herald-portal", app="app_1", cap=["ViewBase"])
    with pytest.raises(UnauthorizedError):
        await TokenValidator(settings, StaticJwks(jwks), portal=tokens).authenticate(f"Bearer {posing}")
    # The portal's key cannot make a tenant's token: the issuer's key set does not hold it.
    portal = await tokens.issue("tenant-p", "app_1", ALL, session_id=None, expiry_seconds=3600)
    tenant_like = _resigned(
        portal, _private(local_key), iss=ISSUER, aud=AUDIENCE, azp="tenant-p", scp="herald.admin"
    )
    with pytest.raises(UnauthorizedError):
        await TokenValidator(settings, StaticJwks(jwks), portal=tokens).authenticate(f"Bearer {tenant_like}")
    # A deployment without portal signing accepts no portal token.
    with pytest.raises(UnauthorizedError):
        await TokenValidator(settings, StaticJwks(jwks)).authenticate(f"Bearer {portal}")
    # The configured issuer can never be named as the portal's.
    with pytest.raises(ValueError, match="HERALD_AUTH_ISSUER"):
        HeraldSettings(auth_issuer=PORTAL_ISSUER)
    with pytest.raises(ValueError, match="public_base_url"):
        HeraldSettings(public_base_url="ftp://portal.example.com")
    assert HeraldSettings(public_base_url="https://portal.example.com/herald/").public_base_url == (
        "https://portal.example.com/herald"
    )


async def test_a_malformed_local_key_is_a_configuration_error_that_never_quotes_it() -> None:
    rsa_der = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    p384_der = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    for text in (
        "bm90IGEga2V5",
        base64.b64encode(rsa_der).decode(),
        base64.b64encode(p384_der).decode(),
        "***",
    ):
        with pytest.raises(ConfigurationError) as caught:
            LocalPortalSigner(text)
        assert text not in caught.value.detail


def test_make_run_writes_a_local_portal_key_beside_the_dev_key_once(project: Path) -> None:
    def init() -> str:
        subprocess.run(
            [sys.executable, "scripts/dev_auth.py", "init"], cwd=project, check=True, capture_output=True
        )
        return str(
            json.loads((project / "local.settings.json").read_text())["Values"]["HERALD_PORTAL_LOCAL_KEY"]
        )

    first = init()
    key_file = project / ".local" / "dev-auth" / "portal-private.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600
    # Kept on every later `make run`: links given out locally outlive restarts.
    assert init() == first
    on_disk = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert isinstance(on_disk, ec.EllipticCurvePrivateKey)
    assert _private(first).private_numbers() == on_disk.private_numbers()


# --- the Key Vault signer --------------------------------------------------------------------------


@pytest.fixture
def vault() -> FakeKeyVault:
    fake = FakeKeyVault()
    fake.create_signing_key(SIGNING_KEY)
    return fake


@pytest.fixture
async def vault_signer(vault: FakeKeyVault) -> AsyncIterator[Callable[..., KeyVaultPortalSigner]]:
    """Key Vault signers signed in through Entra, both answered by the fake's transport."""
    credential = ClientSecretCredential(TENANT_ID, "herald-app", "client-secret", transport=vault)
    signers: list[KeyVaultPortalSigner] = []

    def signer(**options: Any) -> KeyVaultPortalSigner:
        signers.append(
            KeyVaultPortalSigner(VAULT_URL, SIGNING_KEY, credential=credential, transport=vault, **options)
        )
        return signers[-1]

    yield signer
    for each in signers:
        await each.close()
    await credential.close()


async def test_the_vault_signs_each_token_and_verifying_asks_it_nothing(
    vault: FakeKeyVault, vault_signer: Callable[..., KeyVaultPortalSigner], store: CosmosStore
) -> None:
    tokens = PortalTokens(vault_signer(), RevocationList(store), leeway_seconds=60)
    issued = [
        await tokens.issue("tenant-v", "app_1", ALL, session_id=None, expiry_seconds=3600) for _ in range(3)
    ]
    version, private = vault.signing_keys[SIGNING_KEY][-1]
    for token in issued:
        assert jwt.get_unverified_header(token)["kid"] == version
        # The vault's own key is the judge: what it signed verifies under its public half.
        jwt.decode(
            token, private.public_key(), algorithms=["ES256"], audience="herald-portal", issuer=PORTAL_ISSUER
        )
    assert vault.calls_to("sign") == 3
    calls = len(vault.calls)
    for token in issued * 10:
        assert (await tokens.verify(token)).tenant_id == "tenant-v"
    assert len(vault.calls) == calls
    # Only what the signing key's role is for: read the key, sign with it.
    for method, path in vault.calls:
        assert path.startswith(f"/keys/{SIGNING_KEY}"), path
        assert method == "GET" or path.endswith("/sign"), (method, path)


async def test_a_rotated_key_signs_new_tokens_and_tokens_of_older_versions_still_verify(
    vault: FakeKeyVault,
    vault_signer: Callable[..., KeyVaultPortalSigner],
    store: CosmosStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens = PortalTokens(vault_signer(), RevocationList(store), leeway_seconds=60)
    before = await tokens.issue("tenant-v", "app_1", ALL, session_id=None, expiry_seconds=3600)
    rotated = vault.create_signing_key(SIGNING_KEY)
    # Within the hour a process reads the current version again; here at once.
    monkeypatch.setattr(portal_tokens, "CURRENT_KEY_SECONDS", 0.0)
    after = await tokens.issue("tenant-v", "app_1", ALL, session_id=None, expiry_seconds=3600)
    assert jwt.get_unverified_header(after)["kid"] == rotated != jwt.get_unverified_header(before)["kid"]
    monkeypatch.undo()
    # Another process holds neither version: it reads the current one, and the older one once.
    clocks = TwoClocks()
    other = PortalTokens(vault_signer(clock=clocks.monotonic), RevocationList(store), leeway_seconds=60)
    assert {(await other.verify(token)).tenant_id for token in (after, before, after, before)} == {"tenant-v"}
    reads = len(vault.calls)
    # Forged key ids make it ask the vault at most once per interval; meanwhile they are a 503.
    clocks.mono_offset += portal_tokens.KEY_MISS_INTERVAL_SECONDS

    def forged() -> str:
        key = ec.generate_private_key(ec.SECP256R1())
        return jwt.encode(_claims(after), key, algorithm="ES256", headers={"kid": uuid.uuid4().hex})

    with pytest.raises(UnauthorizedError):
        await other.verify(forged())
    for _ in range(5):
        with pytest.raises(ServiceUnavailableError):
            await other.verify(forged())
    assert len(vault.calls) == reads + 1
    await other.verify(before)


async def test_an_unreachable_vault_is_a_503_and_a_missing_key_a_configuration_error(
    vault: FakeKeyVault, vault_signer: Callable[..., KeyVaultPortalSigner], store: CosmosStore
) -> None:
    tokens = PortalTokens(vault_signer(retry_total=0), RevocationList(store), leeway_seconds=60)
    await tokens.issue("tenant-v", "app_1", ALL, session_id=None, expiry_seconds=3600)
    vault.down = True
    with pytest.raises(ServiceUnavailableError):
        await tokens.issue("tenant-v", "app_1", ALL, session_id=None, expiry_seconds=3600)
    vault.down = False
    vault.signing_keys.clear()
    with pytest.raises(ConfigurationError):
        await PortalTokens(vault_signer(), RevocationList(store), leeway_seconds=60).issue(
            "tenant-v", "app_1", ALL, session_id=None, expiry_seconds=3600
        )


# --- revocations -----------------------------------------------------------------------------------


async def test_revocations_are_read_at_most_once_per_interval_and_reach_another_process(
    store: CosmosStore, tenant: str
) -> None:
    clocks = TwoClocks()
    signer = LocalPortalSigner(portal_key())
    # Two processes on one store, each with its own memory of revocations.
    here_store, there_store = CountingStore(store), CountingStore(store)
    here = PortalTokens(
        signer,
        RevocationList(here_store, clock=clocks.wall, monotonic=clocks.monotonic),
        leeway_seconds=60,
        clock=clocks.wall,
    )
    there = PortalTokens(
        signer,
        RevocationList(there_store, clock=clocks.wall, monotonic=clocks.monotonic),
        leeway_seconds=60,
        clock=clocks.wall,
    )

    async def principal(app: str, session: str | None) -> Any:
        return await there.verify(await here.issue(tenant, app, ALL, session_id=session, expiry_seconds=3600))

    logged_out, gone, kept, other_app = (
        await principal("app_1", "s-out"),
        await principal("app_1", "s-gone"),
        await principal("app_1", None),
        await principal("app_2", "s-gone"),
    )
    for _ in range(20):
        for each in (logged_out, gone, kept, other_app):
            await there.check(each)
    assert there_store.reads == 1

    await here.log_out(logged_out)
    await here.expire_all(tenant, "app_1", session_ids=frozenset({"s-gone"}), grace_seconds=0)
    # The process that recorded them refuses at once, without reading.
    for revoked in (logged_out, gone):
        with pytest.raises(UnauthorizedError):
            await here.check(revoked)
    # The other one within the interval, with one read.
    await there.check(logged_out)
    assert there_store.reads == 1
    clocks.mono_offset += portal_tokens.REVOCATION_REFRESH_SECONDS
    for revoked in (logged_out, gone):
        with pytest.raises(UnauthorizedError):
            await there.check(revoked)
    for valid in (kept, other_app):
        await there.check(valid)
    assert there_store.reads == 2

    # An expire-all with a grace period: the tokens work until it has passed.
    await here.expire_all(tenant, "app_1", session_ids=None, grace_seconds=30)
    clocks.mono_offset += portal_tokens.REVOCATION_REFRESH_SECONDS
    await there.check(kept)
    issued_after = await principal("app_1", None)
    clocks.wall_offset += 31
    with pytest.raises(UnauthorizedError):
        await there.check(kept)
    # It reaches the tokens issued before it, not those issued after, nor another application's.
    await there.check(issued_after)
    await there.check(other_app)
    assert there_store.reads == 3


async def test_revocations_that_cannot_be_read_refuse_portal_tokens_and_are_retried_once_per_interval(
    settings: HeraldSettings,
) -> None:
    # Nothing listens on the discard port: every read fails as an unreachable Cosmos does.
    unreachable = CosmosStore.from_settings(
        settings.model_copy(update={"cosmos_endpoint": "https://127.0.0.1:9", "cosmos_timeout_seconds": 1})
    )
    counting = CountingStore(unreachable)
    clocks = TwoClocks()
    revocations = RevocationList(counting, monotonic=clocks.monotonic)
    try:
        for _ in range(3):
            with pytest.raises(ServiceUnavailableError):
                await revocations.fresh()
        assert counting.reads == 1
        clocks.mono_offset += portal_tokens.REVOCATION_REFRESH_SECONDS
        with pytest.raises(ServiceUnavailableError):
            await revocations.fresh()
        assert counting.reads == 2
    finally:
        await unreachable.close()


# --- deny by default, over HTTP --------------------------------------------------------------------

# Every route a portal token may call, and the capability it needs there: a change here is a route
# opened to the portal (or closed) on purpose.
PORTAL_ROUTES = {
    ("GET", "v1/app/{app_id}"): "ViewBase",
    ("GET", "v1/app/{app_id}/endpoint"): "ViewBase",
    ("POST", "v1/app/{app_id}/endpoint"): "ManageEndpoint",
    ("GET", "v1/app/{app_id}/endpoint/{endpoint_id}"): "ViewBase",
    ("PUT", "v1/app/{app_id}/endpoint/{endpoint_id}"): "ManageEndpoint",
    ("PATCH", "v1/app/{app_id}/endpoint/{endpoint_id}"): "ManageEndpoint",
    ("DELETE", "v1/app/{app_id}/endpoint/{endpoint_id}"): "ManageEndpoint",
    ("GET", "v1/app/{app_id}/endpoint/{endpoint_id}/secret"): "ViewEndpointSecret",
    ("POST", "v1/app/{app_id}/endpoint/{endpoint_id}/secret/rotate"): "ManageEndpointSecret",
    ("GET", "v1/app/{app_id}/endpoint/{endpoint_id}/headers"): "ViewBase",
    ("PUT", "v1/app/{app_id}/endpoint/{endpoint_id}/headers"): "ManageEndpoint",
    ("PATCH", "v1/app/{app_id}/endpoint/{endpoint_id}/headers"): "ManageEndpoint",
    ("GET", "v1/app/{app_id}/endpoint/{endpoint_id}/stats"): "ViewBase",
    ("GET", "v1/app/{app_id}/endpoint/{endpoint_id}/attempt-stats"): "ViewBase",
    ("GET", "v1/app/{app_id}/endpoint/{endpoint_id}/health"): "ViewBase",
    ("POST", "v1/app/{app_id}/endpoint/{endpoint_id}/recover"): "CreateAttempts",
    ("POST", "v1/app/{app_id}/endpoint/{endpoint_id}/replay-missing"): "CreateAttempts",
    ("POST", "v1/app/{app_id}/endpoint/{endpoint_id}/bulk-replay"): "CreateAttempts",
    ("POST", "v1/app/{app_id}/endpoint/{endpoint_id}/send-example"): "CreateAttempts",
    ("GET", "v1/app/{app_id}/endpoint/{endpoint_id}/msg"): "ViewBase",
    ("GET", "v1/app/{app_id}/msg"): "ViewBase",
    ("GET", "v1/app/{app_id}/msg/{msg_id}"): "ViewBase",
    ("GET", "v1/app/{app_id}/msg/{msg_id}/endpoint"): "ViewBase",
    ("POST", "v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend"): "CreateAttempts",
    ("GET", "v1/app/{app_id}/attempt/endpoint/{endpoint_id}"): "ViewBase",
    ("GET", "v1/app/{app_id}/attempt/msg/{msg_id}"): "ViewBase",
    ("GET", "v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}"): "ViewBase",
    ("GET", "v1/app/{app_id}/portal-config"): "ViewBase",
    ("GET", "v1/event-type"): "ViewBase",
    ("GET", "v1/event-type/{event_type_name}"): "ViewBase",
    # The application's own tasks only (shared/services/background_tasks.py).
    ("GET", "v1/background-task"): "ViewBase",
    ("GET", "v1/background-task/{task_id}"): "ViewBase",
    ("POST", "v1/auth/logout"): "ViewBase",
}


def _path(route: str, app: str) -> str:
    """The route with the application `app` and a missing resource in every other placeholder."""
    path = route.replace("{app_id}", app)
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = f"{path[:start]}missing-{path[start + 1 : end].replace('_', '-')}{path[end + 1 :]}"
    return f"/api/{path}"


def _call(client: httpx.Client, method: str, path: str, token: str) -> httpx.Response:
    """One request; a 429 of the rate limiter (these walks outrun the tenant's burst) is waited out."""
    body: dict[str, object] | None = {} if method in ("POST", "PUT", "PATCH") else None
    for _ in range(5):
        answer = client.request(method, path, headers={"authorization": f"Bearer {token}"}, json=body)
        if answer.status_code != 429:
            return answer
        time.sleep(float(answer.headers["retry-after"]))
    return answer


@pytest.fixture(scope="module")
def portal_api(herald_url: str, mint: Minter) -> Iterator[tuple[httpx.Client, Callable[..., str], list[str]]]:
    """A tenant's client, a minter of portal tokens over the API, and three applications."""
    with httpx.Client(
        base_url=herald_url, headers={"authorization": f"Bearer {mint(f'portal-{uuid.uuid4().hex[:8]}')}"}
    ) as client:
        apps = [
            client.post("/api/v1/app", json={"name": f"App {n}", "uid": f"app-{n}"}).json()["id"]
            for n in range(3)
        ]

        def token(app: str, **access: Any) -> str:
            answer = client.post(f"/api/v1/auth/app-portal-access/{app}", json=access)
            assert answer.status_code == 200, answer.text
            return str(answer.json()["token"])

        yield client, token, apps


def test_the_routes_open_to_portal_tokens_are_exactly_the_declared_ones() -> None:
    declared = {(route.method, route.route): route.portal for route in ROUTES if route.portal is not None}
    assert declared == PORTAL_ROUTES
    # Public routes take no token at all; every other route is one a tenant's token needs.
    assert {route.name for route in ROUTES if route.scope is None} == {"health_ready", "openapi_document"}


def test_every_route_refuses_portal_tokens_unless_it_names_a_capability_they_hold(
    portal_api: tuple[httpx.Client, Callable[..., str], list[str]],
) -> None:
    client, token, (app, _, _) = portal_api
    # Logout last: it ends the token.
    routes = sorted((r for r in ROUTES if r.scope is not None), key=lambda r: r.name == "portal_logout")
    assert len(routes) > 60
    for capabilities, allowed in ((None, set(Capability)), (["ViewBase"], {Capability.VIEW_BASE})):
        presented = token(app, capabilities=capabilities) if capabilities else token(app)
        for route in routes:
            answer = _call(client, route.method, _path(route.route, app), presented)
            if route.portal is not None and Capability(route.portal) in allowed:
                assert answer.status_code not in (401, 403), (route.method, route.route, answer.text)
            else:
                assert answer.status_code == 403, (route.method, route.route, answer.text)
                assert answer.json()["code"] == "forbidden"
    # Paths no route serves are refused too, not answered as a tenant's token is.
    presented = token(app)
    for method, path in (
        ("GET", "/api/v1/no-such-route"),
        ("POST", "/api/v1/app/x/endpoint/y/transformation"),
    ):
        assert _call(client, method, path, presented).status_code == 403


def test_a_portal_token_reaches_no_other_application_and_learns_nothing_of_it(
    portal_api: tuple[httpx.Client, Callable[..., str], list[str]], mint: Minter
) -> None:
    client, token, (app, other, _) = portal_api
    presented = token(app)
    for route in ROUTES:
        if "{app_id}" not in route.route or route.scope is None:
            continue
        answers = [
            _call(client, route.method, _path(route.route, named), presented)
            for named in (other, "app-1", "app_" + "0" * 27, "no-such-app")
        ]
        expected = (404, "not_found") if route.portal is not None else (403, "forbidden")
        # An application of the tenant's, by id or uid, answers as one that does not exist.
        assert {(a.status_code, a.json()["code"], a.json()["detail"]) for a in answers} == {
            (*expected, answers[0].json()["detail"])
        }, (route.method, route.route)
    # Its own application by uid works as by id; another tenant's application of that uid stays away.
    stranger = {"authorization": f"Bearer {mint(f'stranger-{uuid.uuid4().hex[:8]}')}"}
    assert (
        client.post("/api/v1/app", json={"name": "Stranger's", "uid": "app-0"}, headers=stranger).status_code
        == 201
    )
    mine = client.get("/api/v1/app/app-0", headers={"authorization": f"Bearer {presented}"})
    assert mine.status_code == 200 and mine.json()["id"] == app


def test_endpoints_a_portal_token_creates_meet_the_same_ssrf_rules(
    portal_api: tuple[httpx.Client, Callable[..., str], list[str]],
) -> None:
    client, token, (_, _, app) = portal_api
    portal = {"authorization": f"Bearer {token(app, capabilities=['ManageEndpoint'])}"}
    for url in (
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.7/hook",
        "http://[::ffff:10.0.0.7]/hook",
    ):
        as_tenant = client.post(f"/api/v1/app/{app}/endpoint", json={"url": url})
        as_portal = client.post(f"/api/v1/app/{app}/endpoint", json={"url": url}, headers=portal)
        assert as_tenant.status_code == as_portal.status_code == 422, (url, as_portal.text)
        assert as_tenant.json() == as_portal.json()
    assert client.get(f"/api/v1/app/{app}/endpoint").json()["data"] == []


# --- two instances ---------------------------------------------------------------------------------


def _revocation_reads(client: httpx.Client, operator: str) -> float:
    text = client.get("/api/v1/metrics", headers={"authorization": f"Bearer {operator}"}).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "herald_store_operations_total"
        and sample.labels.get("container") == PORTAL_REVOCATIONS
    )


def test_revocations_reach_another_instance_within_5_s_reading_at_most_once_per_5_s_and_never_to_deliver(
    herald_env: dict[str, str], herald_url: str, mint: Minter, tmp_path: Path
) -> None:
    tenant = f"portal-hosts-{uuid.uuid4().hex[:8]}"
    auth = {"authorization": f"Bearer {mint(tenant)}"}
    operator = mint(tenant, "herald.operator")
    env = {
        **herald_env,
        "HERALD_PUBLIC_BASE_URL": "https://portal.example.test/herald",
        "DEVHOST_DURABLE_DB": str(tmp_path / "durable.sqlite3"),
    }
    with (
        running_receiver() as receiver,
        run_devhost(ROOT, env=env, log_path=tmp_path / "second.log") as second,
        httpx.Client(base_url=herald_url, headers=auth) as a,
        httpx.Client(base_url=second.base_url, headers=auth) as b,
    ):
        apps = {
            name: a.post("/api/v1/app", json={"name": name}).json()["id"]
            for name in ("out", "gone", "all", "grace")
        }
        a.post(f"/api/v1/app/{apps['gone']}/endpoint", json={"url": receiver.url("hook")}).raise_for_status()

        def issue(app: str, session: str | None = None) -> str:
            answer = b.post(
                f"/api/v1/auth/app-portal-access/{app}", json={"sessionId": session} if session else {}
            )
            access = answer.json()
            # The link's base is the one configured on that instance; the token is only in its fragment.
            assert access["url"] == f"https://portal.example.test/herald/api/portal/#token={access['token']}"
            return str(access["token"])

        def status(client: httpx.Client, app: str, token: str) -> int:
            return client.get(
                f"/api/v1/app/{app}/endpoint", headers={"authorization": f"Bearer {token}"}
            ).status_code

        tokens = {
            "out": issue(apps["out"]),
            "gone": issue(apps["gone"], "s-gone"),
            "kept": issue(apps["gone"], "s-kept"),
            "all": issue(apps["all"], "s-any"),
            "grace": issue(apps["grace"]),
        }
        app_of = {"out": "out", "gone": "gone", "kept": "gone", "all": "all", "grace": "grace"}
        for name, token in tokens.items():
            assert status(b, apps[app_of[name]], token) == 200, name
        reads_before, watched_from = _revocation_reads(b, operator), time.monotonic()

        started: dict[str, float] = {}
        started["out"] = time.monotonic()
        assert (
            a.post("/api/v1/auth/logout", headers={"authorization": f"Bearer {tokens['out']}"}).status_code
            == 204
        )
        started["gone"] = time.monotonic()
        assert (
            a.post(f"/api/v1/auth/app/{apps['gone']}/expire-all", json={"sessionIds": ["s-gone"]}).status_code
            == 204
        )
        started["all"] = time.monotonic()
        assert a.post(f"/api/v1/auth/app/{apps['all']}/expire-all", json={}).status_code == 204
        started["grace"] = time.monotonic()
        assert a.post(f"/api/v1/auth/app/{apps['grace']}/expire-all", json={"expiry": 2}).status_code == 204
        # The instance that recorded them refuses at once; the grace period holds.
        assert [status(a, apps[app_of[name]], tokens[name]) for name in ("out", "gone", "all", "grace")] == [
            401,
            401,
            401,
            200,
        ]
        after_all = issue(apps["all"], "s-any")

        refused: dict[str, float] = {}
        while len(refused) < 4 and time.monotonic() < watched_from + 10:
            for name in started.keys() - refused.keys():
                if status(b, apps[app_of[name]], tokens[name]) == 401:
                    refused[name] = time.monotonic() - started[name]
            time.sleep(0.02)
        watched = time.monotonic() - watched_from
        reads = _revocation_reads(b, operator) - reads_before
        # Within 5 s of the call that revoked each (plus the poll that saw it, its one read and its answer).
        assert set(refused) == set(started) and max(refused.values()) < 5.25, refused
        assert refused["grace"] >= 2.0, refused
        # One read per 5 s at most (the first may come at once).
        assert 1 <= reads <= watched / 5 + 1, (reads, watched)
        # Only what was revoked: the session kept, and a token issued after its application's expire-all.
        assert status(b, apps["gone"], tokens["kept"]) == 200
        assert status(b, apps["all"], after_all) == 200

        # Delivering a message reads no revocation.
        reads_before = _revocation_reads(b, operator)
        b.post(
            f"/api/v1/app/{apps['gone']}/msg", json={"eventType": "a.b", "payload": {"n": 1}}
        ).raise_for_status()
        receiver.wait_for("hook", 1)
        time.sleep(0.2)
        assert _revocation_reads(b, operator) == reads_before
        log = second.log_text()
    assert not [
        name
        for name, token in {**tokens, "after": after_all}.items()
        if token in log or token.split(".")[2] in log
    ]
