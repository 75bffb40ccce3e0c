"""Standard Webhooks signing: secrets (`whsec_` + base64 of 24 to 64 bytes) and signatures."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from shared.errors import ValidationFailedError

PREFIX = "whsec_"
MIN_BYTES = 24
MAX_BYTES = 64
GENERATED_BYTES = 24


def generate_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(GENERATED_BYTES)).decode()


def normalize_secret(value: str, *, loc: list[str | int]) -> str:
    """Validates a caller-supplied secret (prefix optional) and returns it with the prefix."""
    raw = value.removeprefix(PREFIX)
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailedError.single(
            loc, "secret must be base64, optionally prefixed with whsec_"
        ) from None
    if not MIN_BYTES <= len(key) <= MAX_BYTES:
        raise ValidationFailedError.single(loc, f"secret must decode to {MIN_BYTES} to {MAX_BYTES} bytes")
    return PREFIX + raw


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def signature_header(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature`: one `v1,<base64 HMAC-SHA256>` per valid secret, space-separated.

    Standard Webhooks signs `{id}.{timestamp}.{body}` with the secret's decoded bytes; during a
    rotation every valid secret signs, so receivers holding either key accept the request.
    """
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()
        for secret in secrets_
    )
