"""A stand-in for Azure Key Vault and the Entra token endpoint, at the Azure SDK's HTTP transport.

Key Vault has no emulator, so this is the one place a test replaces a service: the SDK clients
(`KeyClient`, `CryptographyClient`, `SecretClient`, `ClientSecretCredential`) run unchanged and
only their transport answers, in the shapes the services give (REST API 7.x): the 401 challenge
first, then keys as JSON Web Keys, `wrapkey` / `unwrapkey` results and Key Vault error bodies.

The vault holds real RSA keys and unwraps with RSA-OAEP-256, so what the app wraps only this
vault can open. Like an RBAC role of Key Vault Crypto Service Encryption User, it allows reading a
key (its public half), wrapping and unwrapping, and refuses everything else with 403. Its signing
keys (EC P-256, the app portal's: `create_signing_key`) can be read and sign digests with ES256,
and do nothing else, as a key whose only operation is `sign`.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import ServiceRequestError
from azure.core.pipeline.transport import AsyncHttpTransport
from azure.core.rest import HttpRequest

# The response class azure-core's own async transports build on (aiohttp, asyncio requests).
from azure.core.rest._http_response_impl_async import AsyncHttpResponseImpl
from azure.core.utils import case_insensitive_dict
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

VAULT_URL = "https://herald-test.vault.azure.net"
TENANT_ID = "00000000-0000-0000-0000-0000000000aa"
TOKEN = "fake-entra-access-token"
OAEP_256 = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


@dataclass
class _Body:
    """What AsyncHttpResponseImpl closes when the response is read."""

    async def close(self) -> None:
        return None


@dataclass
class FakeKeyVault(AsyncHttpTransport[Any, AsyncHttpResponseImpl]):
    """One vault (keys and secrets by name, versions oldest first) and its token endpoint."""

    keys: dict[str, list[tuple[str, rsa.RSAPrivateKey]]] = field(default_factory=dict)
    signing_keys: dict[str, list[tuple[str, ec.EllipticCurvePrivateKey]]] = field(default_factory=dict)
    secrets: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # (method, path) of every request that reached the vault with a valid token.
    calls: list[tuple[str, str]] = field(default_factory=list)
    # When set, every request fails as a connection would (the vault is unreachable).
    down: bool = False

    def create_key(self, name: str) -> str:
        """A new version of `name` (the first, or a rotation); returns the version."""
        version = uuid.uuid4().hex
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.keys.setdefault(name, []).append((version, key))
        return version

    def create_signing_key(self, name: str) -> str:
        """A new version of the EC P-256 signing key `name` (the first, or a rotation); its version."""
        version = uuid.uuid4().hex
        self.signing_keys.setdefault(name, []).append((version, ec.generate_private_key(ec.SECP256R1())))
        return version

    def set_secret(self, name: str, value: str) -> str:
        version = uuid.uuid4().hex
        self.secrets.setdefault(name, []).append((version, value))
        return version

    def calls_to(self, operation: str) -> int:
        return sum(1 for _, path in self.calls if path.endswith(f"/{operation}"))

    # --- AsyncHttpTransport ---------------------------------------------------------------------

    async def __aenter__(self) -> FakeKeyVault:
        return self

    async def __aexit__(self, *args: object) -> None:
        return None

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def send(self, request: Any, **kwargs: Any) -> AsyncHttpResponseImpl:
        response = self._handle(request)
        # Like azure-core's transports: the body is read unless the caller streams it.
        if not kwargs.get("stream"):
            await response.read()
        return response

    def _handle(self, request: Any) -> AsyncHttpResponseImpl:
        if self.down:
            raise ServiceRequestError("Cannot connect to host herald-test.vault.azure.net:443")
        url = urlsplit(request.url)
        if url.hostname == "login.microsoftonline.com":
            return self._answer(
                request, 200, {"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"}
            )
        if f"{url.scheme}://{url.hostname}" != VAULT_URL:
            return self._answer(request, 404, {"error": {"code": "NotFound", "message": "No such host."}})
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            # Key Vault answers an unauthenticated request with the challenge naming its tenant.
            challenge = (
                f'Bearer authorization="https://login.microsoftonline.com/{TENANT_ID}", '
                'resource="https://vault.azure.net"'
            )
            return self._answer(
                request, 401, {"error": {"code": "Unauthorized"}}, {"WWW-Authenticate": challenge}
            )
        self.calls.append((request.method, url.path))
        body = json.loads(request.content) if request.content else {}
        return self._route(request, url.path, body)

    # --- the vault --------------------------------------------------------------------------------

    def _route(self, request: Any, path: str, body: dict[str, Any]) -> AsyncHttpResponseImpl:
        key = re.fullmatch(r"/keys/([\w-]+)(?:/([0-9a-f]*))?(?:/(wrapkey|unwrapkey))?/?", path)
        secret = re.fullmatch(r"/secrets/([\w-]+)(?:/([0-9a-f]*))?/?", path)
        signing = re.fullmatch(r"/keys/([\w-]+)(?:/([0-9a-f]*))?(/sign)?/?", path)
        if signing and signing[1] in self.signing_keys:
            return self._signing_key(request, signing[1], signing[2], bool(signing[3]), body)
        if key and request.method == "GET" and not key[3]:
            found = self._version(self.keys, key[1], key[2])
            if found is None:
                return self._not_found(request, "Key", key[1])
            return self._answer(request, 200, self._key_bundle(key[1], *found))
        if key and request.method == "POST" and key[3] and key[2]:
            found = self._version(self.keys, key[1], key[2])
            if found is None:
                return self._not_found(request, "Key", key[1])
            return self._operate(request, key[1], found, key[3], body)
        if secret and request.method == "GET":
            value = self._version(self.secrets, secret[1], secret[2])
            if value is None:
                return self._not_found(request, "Secret", secret[1])
            version, text = value
            secret_id = f"{VAULT_URL}/secrets/{secret[1]}/{version}"
            return self._answer(request, 200, {"value": text, "id": secret_id, "attributes": _attributes()})
        # What the role does not allow (creating, exporting, signing, listing, ...).
        return self._answer(
            request,
            403,
            {
                "error": {
                    "code": "Forbidden",
                    "message": "Caller is not authorized to perform action on resource.",
                    "innererror": {"code": "ForbiddenByRbac"},
                }
            },
        )

    def _operate(
        self,
        request: Any,
        name: str,
        found: tuple[str, rsa.RSAPrivateKey],
        operation: str,
        body: dict[str, Any],
    ) -> AsyncHttpResponseImpl:
        version, private = found
        if body.get("alg") != "RSA-OAEP-256":
            return self._bad_parameter(request, "Unsupported algorithm.")
        value = _unb64url(str(body.get("value", "")))
        if operation == "wrapkey":
            result = private.public_key().encrypt(value, OAEP_256)
        else:
            try:
                result = private.decrypt(value, OAEP_256)
            except ValueError:
                return self._bad_parameter(request, "Unable to unwrap the value with this key.")
        return self._answer(
            request, 200, {"kid": f"{VAULT_URL}/keys/{name}/{version}", "value": _b64url(result)}
        )

    def _signing_key(
        self, request: Any, name: str, version: str | None, sign: bool, body: dict[str, Any]
    ) -> AsyncHttpResponseImpl:
        """A signing key's bundle (GET), or its ES256 signature of a digest (POST .../sign)."""
        found = self._version(self.signing_keys, name, version)
        if found is None:
            return self._not_found(request, "Key", name)
        version, private = found
        kid = f"{VAULT_URL}/keys/{name}/{version}"
        if request.method == "GET" and not sign:
            point = private.public_key().public_numbers()
            jwk = {"kid": kid, "kty": "EC-HSM", "crv": "P-256", "key_ops": ["sign"]}
            jwk |= {"x": _b64url(point.x.to_bytes(32, "big")), "y": _b64url(point.y.to_bytes(32, "big"))}
            return self._answer(
                request, 200, {"key": jwk, "attributes": {**_attributes(), "exportable": False}, "tags": {}}
            )
        if request.method != "POST" or not sign or not body.get("value"):
            return self._answer(request, 403, {"error": {"code": "Forbidden", "message": "Not allowed."}})
        if body.get("alg") != "ES256":
            return self._bad_parameter(request, "Unsupported algorithm.")
        digest = _unb64url(str(body["value"]))
        r, s = decode_dss_signature(private.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256()))))
        # Key Vault answers ECDSA signatures as JWS writes them: r || s, 32 bytes each for P-256.
        return self._answer(
            request, 200, {"kid": kid, "value": _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))}
        )

    @staticmethod
    def _version[T](
        store: dict[str, list[tuple[str, T]]], name: str, version: str | None
    ) -> tuple[str, T] | None:
        versions = store.get(name, [])
        if not version:
            return versions[-1] if versions else None
        return next((entry for entry in versions if entry[0] == version), None)

    @staticmethod
    def _key_bundle(name: str, version: str, private: rsa.RSAPrivateKey) -> dict[str, Any]:
        public = private.public_key().public_numbers()
        return {
            "key": {
                "kid": f"{VAULT_URL}/keys/{name}/{version}",
                "kty": "RSA-HSM",
                "key_ops": ["wrapKey", "unwrapKey"],
                "n": _b64url(_int_bytes(public.n)),
                "e": _b64url(_int_bytes(public.e)),
            },
            "attributes": {**_attributes(), "exportable": False},
            "tags": {},
        }

    def _not_found(self, request: Any, kind: str, name: str) -> AsyncHttpResponseImpl:
        message = f"A {kind.lower()} with (name/id) {name} was not found in this key vault."
        return self._answer(request, 404, {"error": {"code": f"{kind}NotFound", "message": message}})

    def _bad_parameter(self, request: Any, message: str) -> AsyncHttpResponseImpl:
        return self._answer(request, 400, {"error": {"code": "BadParameter", "message": message}})

    @staticmethod
    def _answer(
        request: HttpRequest, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> AsyncHttpResponseImpl:
        content = json.dumps(body).encode()

        async def chunks(**_: Any) -> AsyncIterator[bytes]:
            yield content

        return AsyncHttpResponseImpl(
            request=request,
            internal_response=_Body(),
            status_code=status,
            reason={200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}.get(
                status, "Not Found"
            ),
            content_type="application/json; charset=utf-8",
            headers=case_insensitive_dict(
                {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
            ),
            stream_download_generator=chunks,
        )


def _attributes() -> dict[str, Any]:
    return {
        "enabled": True,
        "created": 1_700_000_000,
        "updated": 1_700_000_000,
        "recoveryLevel": "Recoverable",
    }
