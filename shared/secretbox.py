"""Encryption at rest of endpoint signing secrets (envelope encryption with AES-256-GCM).

The key-encryption key (KEK) lives in Azure Key Vault as a secret holding base64 of 32 bytes, read
once per process per version with `DefaultAzureCredential`. Each ciphertext records the KEK version
it was sealed with, so the KEK can rotate: new secrets use the current version, old ones still
open. The endpoint's identity is the associated data, so a ciphertext copied onto another endpoint
does not open. Locally the KEK comes from settings.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import os
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.errors import HeraldError, ServiceUnavailableError
from shared.settings import HeraldSettings

NONCE_BYTES = 12


class SecretKeyError(HeraldError):
    """The key-encryption key is missing, malformed, or does not open a stored secret."""

    status = 500
    code = "secret_key_error"


def _decode_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SecretKeyError("The key-encryption key is not base64.") from None
    if len(key) != 32:
        raise SecretKeyError("The key-encryption key must be 32 bytes.")
    return key


class KeyProvider(Protocol):
    async def current(self) -> tuple[str, bytes]:
        """The version and bytes of the key new secrets are sealed with."""

    async def by_version(self, version: str) -> bytes: ...


class LocalKeyProvider:
    """Keys from settings: comma-separated base64 keys, the first one current (the rest still open)."""

    def __init__(self, keys: str) -> None:
        decoded = [_decode_key(part) for part in keys.split(",") if part.strip()]
        if not decoded:
            raise SecretKeyError("No key-encryption key is configured.")
        self._keys = {hashlib.sha256(key).hexdigest()[:16]: key for key in decoded}
        self._current = next(iter(self._keys.items()))

    async def current(self) -> tuple[str, bytes]:
        return self._current

    async def by_version(self, version: str) -> bytes:
        try:
            return self._keys[version]
        except KeyError:
            raise SecretKeyError("A stored secret was sealed with an unknown key.") from None


class KeyVaultKeyProvider:
    """The KEK as a Key Vault secret, cached per version for the life of the process."""

    def __init__(self, vault_url: str, secret_name: str) -> None:
        # Lazy import: only deployments with a vault load the Key Vault and identity SDKs.
        from azure.identity.aio import DefaultAzureCredential
        from azure.keyvault.secrets.aio import SecretClient

        self._client = SecretClient(vault_url=vault_url, credential=DefaultAzureCredential())
        self._name = secret_name
        self._versions: dict[str, bytes] = {}
        self._current: tuple[str, bytes] | None = None
        self._lock = asyncio.Lock()

    async def current(self) -> tuple[str, bytes]:
        if self._current is None:
            async with self._lock:
                if self._current is None:
                    secret = await self._fetch(None)
                    self._current = secret
        return self._current

    async def by_version(self, version: str) -> bytes:
        if version not in self._versions:
            await self._fetch(version)
        return self._versions[version]

    async def _fetch(self, version: str | None) -> tuple[str, bytes]:
        try:
            secret = await self._client.get_secret(self._name, version)
        except Exception as exc:  # the vault is down or refuses: answer 503, never leak details
            raise ServiceUnavailableError("The key vault is unavailable, retry later.") from exc
        found = str(secret.properties.version)
        key = _decode_key(str(secret.value))
        self._versions[found] = key
        return found, key


def key_provider(settings: HeraldSettings) -> KeyProvider:
    if settings.keyvault_url:
        return KeyVaultKeyProvider(settings.keyvault_url, settings.kek_secret_name)
    if settings.local_kek:
        return LocalKeyProvider(settings.local_kek)
    raise SecretKeyError("Set HERALD_KEYVAULT_URL (Azure) or HERALD_LOCAL_KEK (local) to store secrets.")


class SecretBox:
    def __init__(self, keys: KeyProvider) -> None:
        self._keys = keys
        # One cipher per key version: every delivery opens its endpoint's secrets, and building
        # the cipher cost more than the decryption. Keys are few; versions are never reused.
        self._ciphers: dict[str, AESGCM] = {}

    def _cipher(self, version: str, key: bytes) -> AESGCM:
        cipher = self._ciphers.get(version)
        if cipher is None:
            cipher = self._ciphers[version] = AESGCM(key)
        return cipher

    async def seal(self, plaintext: str, *, context: str) -> dict[str, Any]:
        version, key = await self._keys.current()
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._cipher(version, key).encrypt(nonce, plaintext.encode(), context.encode())
        return {
            "kv": version,
            "n": base64.b64encode(nonce).decode(),
            "c": base64.b64encode(ciphertext).decode(),
        }

    async def open(self, sealed: dict[str, Any], *, context: str) -> str:
        version = str(sealed["kv"])
        key = await self._keys.by_version(version)
        try:
            plaintext = self._cipher(version, key).decrypt(
                base64.b64decode(sealed["n"]), base64.b64decode(sealed["c"]), context.encode()
            )
        except InvalidTag:
            raise SecretKeyError("A stored secret does not open with its key.") from None
        return plaintext.decode()
