"""Standard Webhooks signing: endpoint secrets and the `webhook-signature` header.

Two kinds of secret sign, the two Svix issues and Standard Webhooks describes:

- `whsec_` + base64 of 24 to 75 random bytes: a symmetric key, signing `v1,<HMAC-SHA256>`;
- `whsk_` + base64 of an Ed25519 key pair (the 32-byte seed, then the 32-byte public key):
  signing `v1a,<Ed25519 signature>`. Its public half, `whpk_` + base64 of the 32-byte public key,
  is what Herald hands out when asked for the secret (as Svix does): receivers verify with it.

Svix's pattern also admits `whpk_` (a public key: it cannot sign) and `whsk1_`/`whpk1_` (no key
format Svix or Standard Webhooks defines): those are refused with a 422 naming the form.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import re
import secrets

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from shared.errors import ValidationFailedError

PREFIX = "whsec_"
ED25519_SECRET_PREFIX = "whsk_"  # noqa: S105 (a prefix, not a secret)
ED25519_PUBLIC_PREFIX = "whpk_"
MIN_BYTES = 24
# Svix's largest symmetric key (its pattern admits 100 base64 characters).
MAX_BYTES = 75
GENERATED_BYTES = 24
ED25519_KEY_BYTES = 32
# Svix's pattern for a secret given in a body (`EndpointIn.secret`, `EndpointSecretRotateIn.key`).
_SVIX_PATTERN = re.compile(r"^(whsec_|whsk_|whsk1_|whpk_|whpk1_)?[a-zA-Z0-9+/=]{32,100}$")
_NOT_SIGNING = {
    "whpk_": "whpk_ is an Ed25519 public key: it verifies signatures but cannot make them; "
    "give the whsk_ secret key",
    "whsk1_": "whsk1_ is not a key form Herald signs with: give a whsec_ (HMAC-SHA256) "
    "or a whsk_ (Ed25519) secret",
    "whpk1_": "whpk1_ is not a key form Herald signs with: give a whsec_ (HMAC-SHA256) "
    "or a whsk_ (Ed25519) secret",
}


def generate_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(GENERATED_BYTES)).decode()


def normalize_secret(value: str, *, loc: list[str | int]) -> str:
    """Validates a caller-supplied secret and returns it as stored: `whsec_...` or `whsk_...`.

    A bare base64 key (no prefix) is a symmetric one, as in Svix.
    """
    match = _SVIX_PATTERN.fullmatch(value)
    if match is None:
        raise ValidationFailedError.single(
            loc,
            "secret must be 32 to 100 base64 characters, optionally prefixed with whsec_ or whsk_",
        )
    prefix = match.group(1) or PREFIX
    if prefix in _NOT_SIGNING:
        raise ValidationFailedError.single(loc, _NOT_SIGNING[prefix])
    raw = value.removeprefix(prefix)
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailedError.single(loc, "secret must be valid base64 after its prefix") from None
    if prefix == ED25519_SECRET_PREFIX:
        _check_key_pair(key, loc)
    elif not MIN_BYTES <= len(key) <= MAX_BYTES:
        raise ValidationFailedError.single(loc, f"secret must decode to {MIN_BYTES} to {MAX_BYTES} bytes")
    return prefix + raw


def _check_key_pair(key: bytes, loc: list[str | int]) -> None:
    """A `whsk_` key is the seed and the public key it derives (Svix's and libsodium's layout)."""
    if len(key) != 2 * ED25519_KEY_BYTES:
        raise ValidationFailedError.single(
            loc, "a whsk_ secret must decode to 64 bytes: the Ed25519 seed, then its public key"
        )
    derived = _public_bytes(Ed25519PrivateKey.from_private_bytes(key[:ED25519_KEY_BYTES]))
    if not hmac.compare_digest(derived, key[ED25519_KEY_BYTES:]):
        raise ValidationFailedError.single(loc, "the whsk_ secret's public half is not its seed's")


def _public_bytes(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@functools.lru_cache(maxsize=4096)
def _ed25519(secret: str) -> Ed25519PrivateKey:
    # Built once per key per process: deliveries sign with the same few keys over and over.
    key = base64.b64decode(secret.removeprefix(ED25519_SECRET_PREFIX))
    return Ed25519PrivateKey.from_private_bytes(key[:ED25519_KEY_BYTES])


def shown_key(secret: str) -> str:
    """What `GET .../secret` answers: a symmetric key as it is, an Ed25519 key's public half."""
    if secret.startswith(ED25519_SECRET_PREFIX):
        return ED25519_PUBLIC_PREFIX + base64.b64encode(_public_bytes(_ed25519(secret))).decode()
    return secret


@functools.lru_cache(maxsize=4096)
def _key(secret: str) -> bytes:
    # Decoded once per key per process, as `_ed25519` builds its keys.
    return base64.b64decode(secret.removeprefix(PREFIX))


def _signature(secret: str, signed: bytes) -> str:
    if secret.startswith(ED25519_SECRET_PREFIX):
        return "v1a," + base64.b64encode(_ed25519(secret).sign(signed)).decode()
    # hmac.digest: OpenSSL's one-shot HMAC, without an HMAC object per signature.
    return "v1," + base64.b64encode(hmac.digest(_key(secret), signed, "sha256")).decode()


def signature_header(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature`: one signature per valid secret, space-separated.

    Standard Webhooks signs `{id}.{timestamp}.{body}`: `v1,` HMAC-SHA256 with a `whsec_` key's
    decoded bytes, `v1a,` Ed25519 with a `whsk_` key. During a rotation every valid secret signs,
    so receivers holding either key accept the request.
    """
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(_signature(secret, signed) for secret in secrets_)
