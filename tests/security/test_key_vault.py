"""Secrets Key Vault holds: the KEK never leaves it, and the Redis URL arrives as a reference.

Endpoint secrets are sealed under data keys that the KEK wraps. Locally the KEK is a key from
settings (`LocalKeyProvider`); in Azure it is a Key Vault key that the app can only wrap and
unwrap with. Key Vault has no emulator, so its adapters run against `FakeKeyVault`, which answers
at the SDK's HTTP transport in Key Vault's shapes; every other test seals with the local provider
through the same interface.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from azure.identity.aio import ClientSecretCredential
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared import keyvault
from shared.errors import ServiceUnavailableError
from shared.keyvault import KeyVaultKeyProvider, KeyVaultSecretKeyProvider
from shared.models import ApplicationIn, EndpointIn
from shared.ratelimit import MemoryRateLimiter
from shared.secretbox import LocalKeyProvider, SecretBox, SecretKeyError, key_provider, legacy_key_provider
from shared.services.registry import Services
from shared.settings import HeraldSettings
from shared.store.base import ENDPOINTS
from shared.store.cosmos import CosmosStore
from tests.security.fake_keyvault import OAEP_256, TENANT_ID, VAULT_URL, FakeKeyVault

KEY_NAME = "herald-kek-key"
CONTEXT = "tenant-a/app_1/ep_1"
SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()


def _local_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _sealed_directly(key_text: str, version: str, plaintext: str, context: str) -> dict[str, Any]:
    """A record as Herald sealed them before the envelope format: AES-GCM under the KEK itself."""
    nonce = os.urandom(12)
    ciphertext = AESGCM(base64.b64decode(key_text)).encrypt(nonce, plaintext.encode(), context.encode())
    return {"kv": version, "n": base64.b64encode(nonce).decode(), "c": base64.b64encode(ciphertext).decode()}


# --- the local key provider ------------------------------------------------------------------------


async def test_a_sealed_secret_holds_a_wrapped_data_key_and_opens_in_another_process() -> None:
    kek = _local_key()
    sealed = await SecretBox(LocalKeyProvider(kek)).seal(SECRET, context=CONTEXT)
    assert set(sealed) == {"kv", "k", "n", "c"}
    stored = json.dumps(sealed)
    assert SECRET not in stored and kek not in stored
    # Another process (a box of its own, same KEK) unwraps the data key and opens the secret.
    assert await SecretBox(LocalKeyProvider(kek)).open(sealed, context=CONTEXT) == SECRET
    # Another KEK opens nothing.
    with pytest.raises(SecretKeyError):
        await SecretBox(LocalKeyProvider(_local_key())).open(sealed, context=CONTEXT)


async def test_a_tampered_wrapped_key_or_another_context_does_not_open() -> None:
    box = SecretBox(LocalKeyProvider(_local_key()))
    sealed = await box.seal(SECRET, context=CONTEXT)
    wrapped = bytearray(base64.b64decode(sealed["k"]))
    wrapped[5] ^= 1
    with pytest.raises(SecretKeyError):
        await SecretBox(LocalKeyProvider(_local_key())).open(
            {**sealed, "k": base64.b64encode(wrapped).decode()}, context=CONTEXT
        )
    with pytest.raises(SecretKeyError):
        await box.open(sealed, context="tenant-a/app_1/ep_2")


async def test_a_box_that_has_opened_a_record_still_refuses_it_tampered_or_in_another_context() -> None:
    # Opened records are answered from memory: the memory must not answer for a changed record.
    box = SecretBox(LocalKeyProvider(_local_key()))
    sealed = await box.seal(SECRET, context=CONTEXT)
    assert await box.open(sealed, context=CONTEXT) == await box.open(dict(sealed), context=CONTEXT) == SECRET
    ciphertext = bytearray(base64.b64decode(sealed["c"]))
    ciphertext[0] ^= 1
    with pytest.raises(SecretKeyError):
        await box.open({**sealed, "c": base64.b64encode(ciphertext).decode()}, context=CONTEXT)
    with pytest.raises(SecretKeyError):
        await box.open(sealed, context="tenant-a/app_1/ep_2")


async def test_records_sealed_before_the_envelope_format_still_open() -> None:
    old, new = _local_key(), _local_key()
    old_version = await LocalKeyProvider(old).current_version()
    keys = LocalKeyProvider(f"{new},{old}")
    legacy = _sealed_directly(old, old_version, SECRET, CONTEXT)
    box = SecretBox(keys, legacy=keys)
    assert await box.open(legacy, context=CONTEXT) == SECRET
    # New seals use the current key, in the envelope format.
    assert (await box.seal(SECRET, context=CONTEXT))["kv"] == await keys.current_version() != old_version


# --- the Key Vault key -----------------------------------------------------------------------------


@pytest.fixture
async def vault() -> FakeKeyVault:
    fake = FakeKeyVault()
    fake.create_key(KEY_NAME)
    return fake


@pytest.fixture
async def in_vault(vault: FakeKeyVault) -> AsyncIterator[Callable[..., KeyVaultKeyProvider]]:
    """Key Vault key providers signed in through Entra, both answered by the fake's transport."""
    credential = ClientSecretCredential(TENANT_ID, "herald-app", "client-secret", transport=vault)
    providers: list[KeyVaultKeyProvider] = []

    def provider(**options: Any) -> KeyVaultKeyProvider:
        providers.append(
            KeyVaultKeyProvider(VAULT_URL, KEY_NAME, credential=credential, transport=vault, **options)
        )
        return providers[-1]

    yield provider
    for each in providers:
        await each.close()
    await credential.close()


async def test_the_key_vault_kek_wraps_data_keys_that_only_the_vault_unwraps(
    vault: FakeKeyVault, in_vault: Callable[..., KeyVaultKeyProvider]
) -> None:
    sealed = await SecretBox(in_vault()).seal(SECRET, context=CONTEXT)
    version, private = vault.keys[KEY_NAME][-1]
    assert sealed["kv"] == version
    # The data key is an RSA-OAEP-256 wrapping by the vault's key: its private half opens it.
    data_key = private.decrypt(base64.b64decode(sealed["k"]), OAEP_256)
    assert len(data_key) == 32
    # A new process opens it by asking the vault to unwrap (the app never holds the private key).
    assert await SecretBox(in_vault()).open(sealed, context=CONTEXT) == SECRET
    assert vault.calls_to("unwrapkey") == 1
    # Only what Key Vault Crypto Service Encryption User allows: read the key, wrap, unwrap.
    for method, path in vault.calls:
        assert path.startswith(f"/keys/{KEY_NAME}/"), path
        assert method == "GET" or path.endswith(("/wrapkey", "/unwrapkey")), (method, path)


async def test_a_fan_out_in_a_new_process_unwraps_each_data_key_once(
    vault: FakeKeyVault, in_vault: Callable[..., KeyVaultKeyProvider]
) -> None:
    sealer = SecretBox(in_vault())
    contexts = [f"tenant-a/app_1/ep_{i}" for i in range(20)]
    records = [await sealer.seal(SECRET, context=context) for context in contexts]
    # One data key per process: sealing twenty secrets asked the vault for no unwrap at all.
    assert vault.calls_to("unwrapkey") == 0 and len({record["k"] for record in records}) == 1
    opener = SecretBox(in_vault())
    opened = await asyncio.gather(
        *(opener.open(record, context=context) for record, context in zip(records, contexts, strict=True))
    )
    assert opened == [SECRET] * 20
    assert vault.calls_to("unwrapkey") == 1


async def test_a_rotated_kek_seals_under_the_new_version_and_older_records_still_open(
    vault: FakeKeyVault, in_vault: Callable[..., KeyVaultKeyProvider], monkeypatch: pytest.MonkeyPatch
) -> None:
    box = SecretBox(in_vault())
    before = await box.seal(SECRET, context=CONTEXT)
    rotated = vault.create_key(KEY_NAME)
    # Within the hour a process reads the current version again; here at once.
    monkeypatch.setattr(keyvault, "CURRENT_VERSION_SECONDS", 0.0)
    after = await box.seal(SECRET, context=CONTEXT)
    assert before["kv"] != after["kv"] == rotated
    fresh = SecretBox(in_vault())
    assert [await fresh.open(record, context=CONTEXT) for record in (before, after)] == [SECRET, SECRET]


async def test_an_unreachable_vault_is_a_503_and_a_foreign_wrapping_does_not_open(
    vault: FakeKeyVault, in_vault: Callable[..., KeyVaultKeyProvider]
) -> None:
    sealed = await SecretBox(in_vault()).seal(SECRET, context=CONTEXT)
    vault.down = True
    with pytest.raises(ServiceUnavailableError):
        await SecretBox(in_vault(retry_total=0)).open(sealed, context=CONTEXT)
    vault.down = False
    # A data key wrapped by another vault's key: this vault cannot unwrap it (400), a 500 for good.
    other = FakeKeyVault()
    other.create_key(KEY_NAME)
    foreign = other.keys[KEY_NAME][-1][1].public_key().encrypt(os.urandom(32), OAEP_256)
    with pytest.raises(SecretKeyError):
        await SecretBox(in_vault()).open({**sealed, "k": base64.b64encode(foreign).decode()}, context=CONTEXT)
    # A version the vault never had (deleted, or another vault's).
    with pytest.raises(SecretKeyError):
        await SecretBox(in_vault()).open({**sealed, "kv": "0" * 32}, context=CONTEXT)


async def test_records_sealed_with_the_former_kek_secret_open_through_it(vault: FakeKeyVault) -> None:
    old_kek = _local_key()
    secret_version = vault.set_secret("herald-kek", old_kek)
    legacy = _sealed_directly(old_kek, secret_version, SECRET, CONTEXT)
    credential = ClientSecretCredential(TENANT_ID, "herald-app", "client-secret", transport=vault)
    keys = KeyVaultKeyProvider(VAULT_URL, KEY_NAME, credential=credential, transport=vault)
    secrets = KeyVaultSecretKeyProvider(VAULT_URL, "herald-kek", credential=credential, transport=vault)
    try:
        assert await SecretBox(keys, legacy=secrets).open(legacy, context=CONTEXT) == SECRET
        # Without HERALD_KEK_SECRET_NAME such a record names the setting it needs.
        with pytest.raises(SecretKeyError, match="HERALD_KEK_SECRET_NAME"):
            await SecretBox(keys).open(legacy, context=CONTEXT)
    finally:
        await keys.close()
        await secrets.close()
        await credential.close()


def test_azure_settings_choose_the_key_vault_key_and_the_former_secret_only_when_named() -> None:
    azure = HeraldSettings(keyvault_url=VAULT_URL)
    assert isinstance(key_provider(azure), KeyVaultKeyProvider)
    assert legacy_key_provider(azure) is None
    upgraded = azure.model_copy(update={"kek_secret_name": "herald-kek"})
    assert isinstance(legacy_key_provider(upgraded), KeyVaultSecretKeyProvider)
    local = HeraldSettings(local_kek=_local_key())
    assert isinstance(key_provider(local), LocalKeyProvider)


async def test_endpoint_secrets_are_sealed_through_the_vault_end_to_end(
    store: CosmosStore, settings: HeraldSettings, vault: FakeKeyVault, tenant: str
) -> None:
    credential = ClientSecretCredential(TENANT_ID, "herald-app", "client-secret", transport=vault)
    keys = KeyVaultKeyProvider(VAULT_URL, KEY_NAME, credential=credential, transport=vault)
    services = Services.build(store, settings, keys=keys)
    try:
        app, _ = await services.applications.create(tenant, ApplicationIn(name="A"))
        endpoint = await services.endpoints.create(
            tenant, app["id"], EndpointIn(url="https://e.example/h", secret=SECRET)
        )
        stored = await store.read(ENDPOINTS, [tenant, app["id"]], endpoint["id"])
        assert stored is not None and SECRET not in json.dumps(stored)
        assert stored["secrets"][0]["sealed"]["kv"] == vault.keys[KEY_NAME][-1][0]
        assert await services.endpoints.get_secret(tenant, app["id"], endpoint["id"]) == SECRET
    finally:
        await services.close()
        await keys.close()
        await credential.close()


# --- the Redis URL ---------------------------------------------------------------------------------


async def test_an_unresolved_redis_reference_degrades_to_local_buckets(
    store: CosmosStore, settings: HeraldSettings, caplog: pytest.LogCaptureFixture
) -> None:
    # App Service passes a reference it could not resolve (yet) on as written.
    reference = f"@Microsoft.KeyVault(SecretUri={VAULT_URL}/secrets/herald-redis-url)"
    with caplog.at_level(logging.WARNING):
        services = Services.build(store, settings.model_copy(update={"redis_url": reference}))
    try:
        assert isinstance(services.rate_limiter, MemoryRateLimiter)
        assert "unresolved Key Vault reference" in caplog.text
    finally:
        await services.close()
