"""Endpoint secret forms and PATCH semantics through the svix SDK, judged by what receivers get."""

from __future__ import annotations

import base64

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from standardwebhooks import Webhook
from svix.api import EndpointIn, EndpointPatch, EndpointSecretRotateIn, MessageIn, Svix
from svix.exceptions import HTTPValidationError

from tests.support.receivers import Receiver

URL = "https://hooks.example.com/in"


def _ed25519_secret() -> tuple[str, Ed25519PublicKey]:
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = private.public_key()
    return "whsk_" + base64.b64encode(
        seed + public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    ).decode(), public


def _signatures(headers: dict[str, str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for item in headers["webhook-signature"].split(" "):
        version, _, value = item.partition(",")
        found.setdefault(version, []).append(value)
    return found


@pytest.mark.parametrize(
    "secret",
    [
        "whsec_" + base64.b64encode(b"a" * 24).decode(),
        "whsec_" + base64.b64encode(b"b" * 75).decode(),
        base64.b64encode(b"c" * 48).decode(),
    ],
    ids=["whsec-24-bytes", "whsec-75-bytes", "bare-base64"],
)
def test_symmetric_secrets_sign_what_standard_webhooks_verifies(
    svix: Svix, app_id: str, receiver: Receiver, secret: str
) -> None:
    path = f"sym-{app_id}"
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 200), secret=secret))
    shown = svix.endpoint.get_secret(app_id, endpoint.id).key
    assert shown == (secret if secret.startswith("whsec_") else f"whsec_{secret}")
    svix.message.create(app_id, MessageIn(event_type="a", payload={"k": 1}))
    (hit,) = receiver.wait_for(path, 1)
    assert Webhook(shown).verify(hit.body, hit.headers) == {"k": 1}


def test_a_whsk_secret_signs_v1a_and_is_shown_as_its_whpk_public_key(
    svix: Svix, app_id: str, receiver: Receiver
) -> None:
    secret, public = _ed25519_secret()
    path = f"asym-{app_id}"
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 200), secret=secret))
    shown = svix.endpoint.get_secret(app_id, endpoint.id).key
    assert shown == "whpk_" + base64.b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
    msg = svix.message.create(app_id, MessageIn(event_type="a", payload={"k": 1}))
    (hit,) = receiver.wait_for(path, 1)
    signed = f"{msg.id}.{hit.headers['webhook-timestamp']}.".encode() + hit.body
    (signature,) = _signatures(hit.headers)["v1a"]
    # The receiver verifies with the public key it was shown: Herald never hands out the secret.
    Ed25519PublicKey.from_public_bytes(base64.b64decode(shown.removeprefix("whpk_"))).verify(
        base64.b64decode(signature), signed
    )

    # A rotation back to HMAC: both keys sign during the grace period, each in its own scheme.
    hmac_key = "whsec_" + base64.b64encode(b"r" * 32).decode()
    rotated = svix.endpoint.rotate_secret(app_id, endpoint.id, EndpointSecretRotateIn(key=hmac_key))
    assert rotated.key == hmac_key
    svix.message.create(app_id, MessageIn(event_type="a", payload={"k": 2}))
    hit = receiver.wait_for(path, 2)[1]
    assert sorted(_signatures(hit.headers)) == ["v1", "v1a"]
    Webhook(hmac_key).verify(hit.body, hit.headers)


@pytest.mark.parametrize(
    ("secret", "named"),
    [
        ("whpk_" + base64.b64encode(b"p" * 32).decode(), "whpk_"),
        ("whsk1_" + base64.b64encode(b"q" * 32).decode(), "whsk1_"),
        ("whpk1_" + base64.b64encode(b"q" * 32).decode(), "whpk1_"),
        ("whsk_" + base64.b64encode(b"s" * 64).decode(), "whsk_"),
        ("whsec_" + base64.b64encode(b"t" * 76).decode(), "base64"),
        ("whsec_" + base64.b64encode(b"u" * 23).decode(), "24 to 75 bytes"),
    ],
    ids=["public-key", "whsk1", "whpk1", "mismatched-key-pair", "too-long", "too-short"],
)
def test_secrets_herald_cannot_sign_with_are_a_422_naming_the_form(
    svix: Svix, app_id: str, secret: str, named: str
) -> None:
    with pytest.raises(HTTPValidationError) as caught:
        svix.endpoint.create(app_id, EndpointIn(url=URL, secret=secret))
    (error,) = caught.value.detail
    assert error.loc == ["body", "secret"] and named in error.msg
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=URL))
    with pytest.raises(HTTPValidationError):
        svix.endpoint.rotate_secret(app_id, endpoint.id, EndpointSecretRotateIn(key=secret))


def test_patch_with_empty_filters_and_a_zero_rate_clears_them(
    svix: Svix, app_id: str, receiver: Receiver
) -> None:
    path = f"patched-{app_id}"
    endpoint = svix.endpoint.create(
        app_id,
        EndpointIn(
            url=receiver.url(path, 200),
            description="keep me",
            event_types=["a.kept"],
            channels=["eu"],
            throttle_rate=5,
        ),
    )
    svix.message.create(app_id, MessageIn(event_type="b.other", payload={"before": True}))
    patched = svix.endpoint.patch(
        app_id, endpoint.id, EndpointPatch(event_types=[], channels=[], throttle_rate=0)
    )
    # Cleared, as null clears them: every event type and channel, no limit. The rest is kept.
    assert (patched.event_types, patched.channels, patched.throttle_rate) == (None, None, None)
    assert (patched.description, patched.url) == ("keep me", endpoint.url)
    svix.message.create(app_id, MessageIn(event_type="b.other", payload={"after": True}))
    (hit,) = receiver.wait_for(path, 1)
    assert hit.body == b'{"after":true}'
    # Only what a PATCH names changes.
    again = svix.endpoint.patch(app_id, endpoint.id, EndpointPatch(throttle_rate=7))
    assert (again.throttle_rate, again.description, again.event_types) == (7, "keep me", None)


def test_a_zero_rate_or_an_empty_filter_is_still_refused_on_create(svix: Svix, app_id: str) -> None:
    # The spec allows them in a PATCH only; a create or a PUT needs a rate of 1 or more.
    for endpoint in (EndpointIn(url=URL, throttle_rate=0), EndpointIn(url=URL, event_types=[])):
        with pytest.raises(HTTPValidationError):
            svix.endpoint.create(app_id, endpoint)


def test_svix_1x_names_are_read_and_answered(http: httpx.Client, app_id: str) -> None:
    created = http.post(
        f"/api/v1/app/{app_id}/endpoint",
        json={"url": URL, "filterTypes": ["a.b"], "rateLimit": 3, "version": 2, "someFutureField": 1},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["eventTypes"], body["filterTypes"], body["throttleRate"], body["rateLimit"]) == (
        ["a.b"],
        ["a.b"],
        3,
        3,
    )
    assert body["version"] == 2 and "someFutureField" not in body
    # The 2.x names win when both are given, as in Svix.
    patched = http.patch(
        f"/api/v1/app/{app_id}/endpoint/{body['id']}", json={"eventTypes": ["c.d"], "filterTypes": ["x.y"]}
    ).json()
    assert patched["eventTypes"] == ["c.d"] and patched["version"] == 2


def test_svix_1x_application_rate_limit_is_its_throttle_rate(http: httpx.Client) -> None:
    created = http.post("/api/v1/app", json={"name": "1.x", "rateLimit": 4})
    assert created.status_code == 201, created.text
    assert (created.json()["throttleRate"], created.json()["rateLimit"]) == (4, 4)
    patched = http.patch(f"/api/v1/app/{created.json()['id']}", json={"rateLimit": None}).json()
    assert (patched["throttleRate"], patched["rateLimit"]) == (None, None)


def test_a_svix_1x_patch_with_a_secret_rotates_to_it(http: httpx.Client, app_id: str) -> None:
    endpoint = http.post(f"/api/v1/app/{app_id}/endpoint", json={"url": URL}).json()
    chosen = "whsec_" + base64.b64encode(b"n" * 32).decode()
    patched = http.patch(f"/api/v1/app/{app_id}/endpoint/{endpoint['id']}", json={"secret": chosen})
    assert patched.status_code == 200 and "secret" not in patched.json()
    assert http.get(f"/api/v1/app/{app_id}/endpoint/{endpoint['id']}/secret").json()["key"] == chosen
    refused = http.patch(
        f"/api/v1/app/{app_id}/endpoint/{endpoint['id']}", json={"secret": "whpk_" + "A" * 44}
    )
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "secret"]
