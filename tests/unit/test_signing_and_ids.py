"""Endpoint secrets and resource ids."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from ksuid import KsuidMs
from standardwebhooks import Webhook

from shared import ids
from shared.errors import ValidationFailedError
from shared.signing import generate_secret, normalize_secret, shown_key, signature_header

pytestmark = pytest.mark.offline


def test_generated_secret_is_whsec_and_24_bytes() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24
    # The independent library signs with it exactly as Herald does.
    body = b'{"a":1}'
    signed_at = datetime.fromtimestamp(1700000000, UTC)
    expected = Webhook(secret).sign("msg_1", signed_at, body.decode())
    assert signature_header([secret], "msg_1", 1700000000, body) == expected


def test_supplied_secret_gets_prefix_and_must_decode_to_24_to_75_bytes() -> None:
    # Svix's bounds: its pattern admits 32 to 100 base64 characters, its server 24 to 75 bytes.
    raw = base64.b64encode(b"k" * 32).decode()
    assert normalize_secret(raw, loc=["body", "secret"]) == "whsec_" + raw
    longest = "whsec_" + base64.b64encode(b"k" * 75).decode()
    assert normalize_secret(longest, loc=["body", "secret"]) == longest
    Webhook(longest)
    for refused in (
        base64.b64encode(b"k" * 23).decode(),
        base64.b64encode(b"k" * 76).decode(),
        "whsec_not*base64",
        "whsec_" + "A" * 33,  # base64 characters, not base64
    ):
        with pytest.raises(ValidationFailedError):
            normalize_secret(refused, loc=["body", "secret"])


def test_a_whsk_key_signs_v1a_and_is_shown_by_its_public_half() -> None:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    seed = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    secret = "whsk_" + base64.b64encode(seed + public).decode()
    assert normalize_secret(secret, loc=["body", "secret"]) == secret
    assert shown_key(secret) == "whpk_" + base64.b64encode(public).decode()
    hmac_secret = generate_secret()
    header = signature_header([secret, hmac_secret], "msg_1", 1700000000, b'{"a":1}')
    asymmetric, symmetric = header.split(" ")
    assert asymmetric.startswith("v1a,") and symmetric.startswith("v1,")
    # cryptography verifies the Ed25519 signature with the public key alone.
    private.public_key().verify(base64.b64decode(asymmetric[4:]), b'msg_1.1700000000.{"a":1}')


def test_key_forms_herald_cannot_sign_with_are_refused_by_name() -> None:
    key = base64.b64encode(b"k" * 32).decode()
    other_seed = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    for prefix, named in (("whpk_", "whpk_"), ("whsk1_", "whsk1_"), ("whpk1_", "whpk1_")):
        with pytest.raises(ValidationFailedError) as caught:
            normalize_secret(prefix + key, loc=["body", "secret"])
        assert named in str(caught.value.to_body())
    # A whsk_ key must be a seed followed by its own public key.
    with pytest.raises(ValidationFailedError):
        normalize_secret("whsk_" + base64.b64encode(other_seed + b"\0" * 32).decode(), loc=["body", "secret"])
    with pytest.raises(ValidationFailedError):
        normalize_secret("whsk_" + key, loc=["body", "secret"])


def test_ids_carry_prefix_and_sort_by_creation_time() -> None:
    first = ids.new_id(ids.MESSAGE)
    time.sleep(0.01)
    second = ids.new_id(ids.MESSAGE)
    assert first.startswith("msg_")
    assert first < second


def test_seeded_ids_are_stable() -> None:
    seed = ids.new_seed()
    assert ids.new_id(ids.APP, seed) == ids.new_id(ids.APP, seed) == f"app_{seed}"


def test_a_seed_is_a_ksuid_of_now_as_the_ksuid_library_writes_it() -> None:
    seed = ids.new_seed()
    parsed = KsuidMs.from_base62(seed)
    assert str(parsed) == seed and len(seed) == KsuidMs.BASE62_LENGTH
    assert abs(parsed.timestamp - time.time()) < 5


def test_ids_made_in_one_tick_still_sort_in_creation_order() -> None:
    # A thousand ids in far less than the KSUID's 4 ms tick: the random part alone would shuffle them.
    made = [ids.new_id(ids.MESSAGE) for _ in range(1000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
