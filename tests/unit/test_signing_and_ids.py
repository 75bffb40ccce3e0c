"""Endpoint secrets and resource ids."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks import Webhook

from shared import ids
from shared.errors import ValidationFailedError
from shared.signing import generate_secret, normalize_secret


def test_generated_secret_is_whsec_and_24_bytes() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24
    # The independent library accepts it as a signing key.
    Webhook(secret)


def test_supplied_secret_gets_prefix_and_must_decode_to_24_to_64_bytes() -> None:
    raw = base64.b64encode(b"k" * 32).decode()
    assert normalize_secret(raw, loc=["body", "secret"]) == "whsec_" + raw
    with pytest.raises(ValidationFailedError):
        normalize_secret(base64.b64encode(b"k" * 23).decode(), loc=["body", "secret"])
    with pytest.raises(ValidationFailedError):
        normalize_secret(base64.b64encode(b"k" * 65).decode(), loc=["body", "secret"])
    with pytest.raises(ValidationFailedError):
        normalize_secret("whsec_not*base64", loc=["body", "secret"])


def test_ids_carry_prefix_and_sort_by_creation_time() -> None:
    first = ids.new_id(ids.MESSAGE)
    time.sleep(0.01)
    second = ids.new_id(ids.MESSAGE)
    assert first.startswith("msg_")
    assert first < second


def test_seeded_ids_are_stable() -> None:
    seed = ids.new_seed()
    assert ids.new_id(ids.APP, seed) == ids.new_id(ids.APP, seed) == f"app_{seed}"


def test_ids_made_in_one_tick_still_sort_in_creation_order() -> None:
    # A thousand ids in far less than the KSUID's 4 ms tick: the random part alone would shuffle them.
    made = [ids.new_id(ids.MESSAGE) for _ in range(1000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
