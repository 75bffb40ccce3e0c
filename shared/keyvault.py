"""Key Vault adapters of the secret box (`shared/secretbox.py`), through the managed identity.

`KeyVaultKeyProvider` is the KEK as a Key Vault key (RSA-HSM, operations `wrapKey` and
`unwrapKey` only): a data key is wrapped with the key's public half, which the SDK reads once per
version and uses in process, and unwrapped by the vault, so the private key never leaves it.
`KeyVaultSecretKeyProvider` reads the KEK secret of deployments made before the KEK was a key,
for the records sealed with it then (see infra/README.md, "The KEK").

The SDKs load only here, on first use, and only in deployments with a vault.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from shared.errors import ServiceUnavailableError
from shared.secretbox import SecretKeyError, decode_key

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential
    from azure.keyvault.keys.crypto.aio import CryptographyClient

# How long a process keeps sealing under the version it read as current: a rotation (the key's
# rotation policy, or `az keyvault key rotate`) reaches every instance within this, no restart.
CURRENT_VERSION_SECONDS = 3600.0

_credential: AsyncTokenCredential | None = None


def _default_credential() -> AsyncTokenCredential:
    """One credential per process (it caches its tokens); AZURE_CLIENT_ID names the identity."""
    global _credential
    if _credential is None:
        from azure.identity.aio import DefaultAzureCredential

        _credential = DefaultAzureCredential()
    return _credential


async def _answer[T](call: Awaitable[T]) -> T:
    """The vault's answer; a refusal to open becomes SecretKeyError, anything else a 503."""
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

    try:
        return await call
    except ResourceNotFoundError:
        # The key, or the version a record names, does not exist (deleted or purged, or a
        # misnamed HERALD_KEK_KEY_NAME): retrying will not bring it back.
        raise SecretKeyError("The key-encryption key or its version does not exist.") from None
    except HttpResponseError as exc:
        if exc.status_code == 400:
            # The vault could not unwrap the value: it is not a wrapping by this version.
            raise SecretKeyError("A stored secret does not open with its key.") from None
        raise ServiceUnavailableError("The key vault is unavailable, retry later.") from exc
    except Exception as exc:  # the vault is unreachable, or the identity gets no token
        raise ServiceUnavailableError("The key vault is unavailable, retry later.") from exc


class KeyVaultKeyProvider:
    """The KEK as a Key Vault key: wrap and unwrap only (the app's role allows nothing else)."""

    def __init__(
        self,
        vault_url: str,
        key_name: str,
        *,
        credential: AsyncTokenCredential | None = None,
        **client_options: Any,
    ) -> None:
        from azure.keyvault.keys.aio import KeyClient
        from azure.keyvault.keys.crypto import KeyWrapAlgorithm

        self._client = KeyClient(vault_url, credential or _default_credential(), **client_options)
        self._name = key_name
        # RSAES-OAEP with SHA-256, the RSA wrapping Key Vault recommends.
        self._algorithm = KeyWrapAlgorithm.rsa_oaep_256
        self._crypto: dict[str, CryptographyClient] = {}
        self._current: tuple[str, float] | None = None
        self._lock = asyncio.Lock()

    async def current_version(self) -> str:
        current = self._current
        if current is None or time.monotonic() - current[1] >= CURRENT_VERSION_SECONDS:
            async with self._lock:
                current = self._current
                if current is None or time.monotonic() - current[1] >= CURRENT_VERSION_SECONDS:
                    key = await _answer(self._client.get_key(self._name))
                    version = key.properties.version
                    if not version:
                        raise ServiceUnavailableError("The key vault named no key version, retry later.")
                    current = self._current = (version, time.monotonic())
        return current[0]

    async def wrap(self, version: str, data_key: bytes) -> bytes:
        result = await _answer(self._cryptography(version).wrap_key(self._algorithm, data_key))
        return bytes(result.encrypted_key)

    async def unwrap(self, version: str, wrapped: bytes) -> bytes:
        result = await _answer(self._cryptography(version).unwrap_key(self._algorithm, wrapped))
        return bytes(result.key)

    def _cryptography(self, version: str) -> CryptographyClient:
        """One client per version, sharing the key client's pipeline; each reads its public key once."""
        crypto = self._crypto.get(version)
        if crypto is None:
            crypto = self._crypto[version] = self._client.get_cryptography_client(
                self._name, key_version=version
            )
        return crypto

    async def close(self) -> None:
        await self._client.close()


class KeyVaultSecretKeyProvider:
    """The KEK of older deployments, a Key Vault secret (base64 of 32 bytes), cached per version.

    Only records sealed before the envelope format need it; nothing new is sealed with it.
    """

    def __init__(
        self,
        vault_url: str,
        secret_name: str,
        *,
        credential: AsyncTokenCredential | None = None,
        **client_options: Any,
    ) -> None:
        from azure.keyvault.secrets.aio import SecretClient

        self._client = SecretClient(vault_url, credential or _default_credential(), **client_options)
        self._name = secret_name
        self._versions: dict[str, bytes] = {}

    async def by_version(self, version: str) -> bytes:
        key = self._versions.get(version)
        if key is None:
            secret = await _answer(self._client.get_secret(self._name, version))
            key = self._versions[version] = decode_key(str(secret.value))
        return key

    async def close(self) -> None:
        await self._client.close()
