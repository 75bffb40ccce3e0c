"""Encryption at rest of endpoint signing secrets (envelope encryption with AES-256-GCM).

A secret is sealed with a random 32-byte data key under AES-256-GCM; the data key is wrapped by
the key-encryption key (KEK), and the sealed record carries the wrapped data key and the KEK
version that wrapped it: `{"kv", "k", "n", "c"}`. The KEK stays with its provider: in Azure a Key
Vault key (`shared/keyvault.py`: wrapped with its public half, unwrapped by the vault, never
leaving it), locally keys from settings. Rotating the KEK makes new secrets use the new version;
records sealed under older versions still open. The endpoint's identity is the associated data,
so a ciphertext copied onto another endpoint does not open.

Each process makes one data key per KEK version and wraps it once, so sealing costs no call to
the vault; opening unwraps each distinct data key once per process and keeps it in memory.

Records sealed before the envelope format (`{"kv", "n", "c"}`, no `k`) were encrypted directly
with a KEK that left the vault (a Key Vault secret, or the local key): they still open through a
`LegacyKeyProvider` while one is configured (`HERALD_KEK_SECRET_NAME`; see infra/README.md).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import os
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from shared.errors import HeraldError
from shared.settings import HeraldSettings

NONCE_BYTES = 12
DATA_KEY_BYTES = 32
# Seals under one data key before a fresh one is made: far inside AES-GCM's bound for random
# 96-bit nonces (2**32 messages per key).
DATA_KEY_USES = 2**24
# Opened secrets a process keeps (two per endpoint during a rotation): some hundreds of KB.
OPENED_SECRETS = 4096


class SecretKeyError(HeraldError):
    """The key-encryption key is missing, malformed, or does not open a stored secret."""

    status = 500
    code = "secret_key_error"


def decode_key(text: str) -> bytes:
    """A 32-byte key from its base64 text (the local keys, and a legacy Key Vault secret)."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SecretKeyError("The key-encryption key is not base64.") from None
    if len(key) != 32:
        raise SecretKeyError("The key-encryption key must be 32 bytes.")
    return key


class KeyProvider(Protocol):
    """Wraps and unwraps data keys with the KEK, which never leaves the provider."""

    async def current_version(self) -> str:
        """The KEK version new data keys are wrapped with.

        :raises ServiceUnavailableError: the provider does not answer.
        """

    async def wrap(self, version: str, data_key: bytes) -> bytes:
        """`data_key` wrapped by that KEK version.

        :raises ServiceUnavailableError: the provider does not answer.
        """

    async def unwrap(self, version: str, wrapped: bytes) -> bytes:
        """The data key that `wrapped` holds.

        :raises SecretKeyError: the version is unknown, or `wrapped` is not its wrapping.
        :raises ServiceUnavailableError: the provider does not answer.
        """


class LegacyKeyProvider(Protocol):
    """The KEK bytes of versions that sealed secrets directly, before the envelope format."""

    async def by_version(self, version: str) -> bytes:
        """:raises SecretKeyError: unknown version. :raises ServiceUnavailableError: no answer."""


class LocalKeyProvider:
    """Keys from settings (local development and tests): comma-separated base64 keys, the first
    one current, the rest still open. Data keys are wrapped with AES key wrap (RFC 3394)."""

    def __init__(self, keys: str) -> None:
        decoded = [decode_key(part) for part in keys.split(",") if part.strip()]
        if not decoded:
            raise SecretKeyError("No key-encryption key is configured.")
        self._keys = {hashlib.sha256(key).hexdigest()[:16]: key for key in decoded}
        self._current = next(iter(self._keys))

    async def current_version(self) -> str:
        return self._current

    async def wrap(self, version: str, data_key: bytes) -> bytes:
        return aes_key_wrap(await self.by_version(version), data_key)

    async def unwrap(self, version: str, wrapped: bytes) -> bytes:
        try:
            return aes_key_unwrap(await self.by_version(version), wrapped)
        except InvalidUnwrap:
            raise SecretKeyError("A stored secret does not open with its key.") from None

    async def by_version(self, version: str) -> bytes:
        try:
            return self._keys[version]
        except KeyError:
            raise SecretKeyError("A stored secret was sealed with an unknown key.") from None


def key_provider(settings: HeraldSettings) -> KeyProvider:
    if settings.keyvault_url:
        # Lazy import: only deployments with a vault load the Key Vault and identity SDKs.
        from shared.keyvault import KeyVaultKeyProvider

        return KeyVaultKeyProvider(settings.keyvault_url, settings.kek_key_name)
    if settings.local_kek:
        return LocalKeyProvider(settings.local_kek)
    raise SecretKeyError("Set HERALD_KEYVAULT_URL (Azure) or HERALD_LOCAL_KEK (local) to store secrets.")


def legacy_key_provider(settings: HeraldSettings) -> LegacyKeyProvider | None:
    """Where records sealed before the envelope format find their key; None: nowhere."""
    if settings.keyvault_url:
        if not settings.kek_secret_name:
            return None
        from shared.keyvault import KeyVaultSecretKeyProvider

        return KeyVaultSecretKeyProvider(settings.keyvault_url, settings.kek_secret_name)
    if settings.local_kek:
        return LocalKeyProvider(settings.local_kek)
    return None


@dataclass
class _DataKey:
    version: str
    wrapped: bytes
    cipher: AESGCM
    uses: int = 0


@dataclass
class _Opened:
    """Unwrapped data keys by (KEK version, wrapped key), each unwrapped once per process."""

    ciphers: dict[tuple[str, bytes], AESGCM] = field(default_factory=dict)
    # One lock per data key: the first round of a fan-out opens many secrets sealed under the
    # same data key at once, and only one of them should ask the vault.
    locks: dict[tuple[str, bytes], asyncio.Lock] = field(default_factory=dict)


class SecretBox:
    def __init__(self, keys: KeyProvider, *, legacy: LegacyKeyProvider | None = None) -> None:
        self._keys = keys
        self._legacy = legacy
        self._sealing: _DataKey | None = None
        self._sealing_lock = asyncio.Lock()
        self._opened = _Opened()
        # Legacy records: one cipher per KEK version (building it cost more than the decryption).
        self._legacy_ciphers: dict[str, AESGCM] = {}
        # Opened secrets by everything that opened them (KEK version, wrapped key, nonce,
        # ciphertext, context): a changed record or context is decrypted, and checked, afresh.
        self._plaintexts: dict[tuple[str, str | None, str, str, str], str] = {}

    async def seal(self, plaintext: str, *, context: str) -> dict[str, Any]:
        data_key = await self._data_key()
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = data_key.cipher.encrypt(nonce, plaintext.encode(), context.encode())
        return {
            "kv": data_key.version,
            "k": base64.b64encode(data_key.wrapped).decode(),
            "n": base64.b64encode(nonce).decode(),
            "c": base64.b64encode(ciphertext).decode(),
        }

    async def open(self, sealed: dict[str, Any], *, context: str) -> str:
        # Every attempt signs with its endpoint's secrets: a secret opened before is answered from
        # memory (bounded), not decrypted again (bench/delivery's profile: 2-3% of a host's CPU).
        slot = (str(sealed["kv"]), sealed.get("k"), sealed["n"], sealed["c"], context)
        plaintext = self._plaintexts.get(slot)
        if plaintext is None:
            plaintext = await self._decrypt(sealed, context=context)
            if len(self._plaintexts) >= OPENED_SECRETS:
                # The oldest first: dicts keep insertion order.
                del self._plaintexts[next(iter(self._plaintexts))]
            self._plaintexts[slot] = plaintext
        return plaintext

    async def _decrypt(self, sealed: dict[str, Any], *, context: str) -> str:
        version = str(sealed["kv"])
        if "k" in sealed:
            cipher = await self._unwrapped(version, base64.b64decode(sealed["k"]))
        else:
            cipher = await self._legacy_cipher(version)
        try:
            plaintext = cipher.decrypt(
                base64.b64decode(sealed["n"]), base64.b64decode(sealed["c"]), context.encode()
            )
        except InvalidTag:
            raise SecretKeyError("A stored secret does not open with its key.") from None
        return plaintext.decode()

    async def _data_key(self) -> _DataKey:
        """This process's data key under the current KEK version (a new one when the KEK rotated)."""
        version = await self._keys.current_version()
        data_key = self._sealing
        if data_key is None or data_key.version != version or data_key.uses >= DATA_KEY_USES:
            async with self._sealing_lock:
                data_key = self._sealing
                if data_key is None or data_key.version != version or data_key.uses >= DATA_KEY_USES:
                    key = AESGCM.generate_key(bit_length=DATA_KEY_BYTES * 8)
                    wrapped = await self._keys.wrap(version, key)
                    data_key = self._sealing = _DataKey(version, wrapped, AESGCM(key))
                    self._opened.ciphers[(version, wrapped)] = data_key.cipher
        data_key.uses += 1
        return data_key

    async def _unwrapped(self, version: str, wrapped: bytes) -> AESGCM:
        slot = (version, wrapped)
        cipher = self._opened.ciphers.get(slot)
        if cipher is not None:
            return cipher
        async with self._opened.locks.setdefault(slot, asyncio.Lock()):
            cipher = self._opened.ciphers.get(slot)
            if cipher is None:
                key = await self._keys.unwrap(version, wrapped)
                if len(key) != DATA_KEY_BYTES:
                    raise SecretKeyError("A stored secret does not open with its key.")
                cipher = self._opened.ciphers[slot] = AESGCM(key)
        self._opened.locks.pop(slot, None)
        return cipher

    async def _legacy_cipher(self, version: str) -> AESGCM:
        cipher = self._legacy_ciphers.get(version)
        if cipher is None:
            if self._legacy is None:
                raise SecretKeyError(
                    "A stored secret was sealed directly with a KEK secret: set HERALD_KEK_SECRET_NAME."
                )
            cipher = self._legacy_ciphers[version] = AESGCM(await self._legacy.by_version(version))
        return cipher
