"""Endpoints through the svix SDK."""

from __future__ import annotations

import base64

import pytest
from svix.api import (
    EndpointHeadersIn,
    EndpointHeadersPatchIn,
    EndpointIn,
    EndpointListOptions,
    EndpointPatch,
    EndpointSecretRotateIn,
    EndpointUpsertIn,
    MessageIn,
    Svix,
)
from svix.exceptions import HttpError, HTTPValidationError

URL = "https://hooks.example.com/in"


def test_create_generates_a_whsec_secret(svix: Svix, app_id: str) -> None:
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=URL, event_types=["a.b"], channels=["eu"]))
    assert endpoint.id.startswith("ep_")
    assert (endpoint.url, endpoint.event_types, endpoint.channels, endpoint.disabled) == (
        URL,
        ["a.b"],
        ["eu"],
        False,
    )
    key = svix.endpoint.get_secret(app_id, endpoint.id).key
    assert key.startswith("whsec_") and 24 <= len(base64.b64decode(key.removeprefix("whsec_"))) <= 64


def test_a_supplied_secret_is_kept(svix: Svix, app_id: str) -> None:
    secret = "whsec_" + base64.b64encode(b"s" * 32).decode()
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=URL, secret=secret))
    assert svix.endpoint.get_secret(app_id, endpoint.id).key == secret


def test_get_list_update_patch_delete(svix: Svix, app_id: str) -> None:
    first = svix.endpoint.create(app_id, EndpointIn(url=URL, uid="primary", description="main"))
    second = svix.endpoint.create(app_id, EndpointIn(url=URL + "2"))
    assert svix.endpoint.get(app_id, "primary").id == first.id
    listed = svix.endpoint.list(app_id, EndpointListOptions(limit=1))
    assert [e.id for e in listed.data] == [first.id] and not listed.done
    rest = svix.endpoint.list(app_id, EndpointListOptions(limit=1, iterator=listed.iterator))
    assert [e.id for e in rest.data] == [second.id]
    updated = svix.endpoint.upsert(app_id, first.id, EndpointUpsertIn(url=URL + "/v2", disabled=True))
    assert (updated.url, updated.disabled, updated.description) == (URL + "/v2", True, "")
    patched = svix.endpoint.patch(app_id, first.id, EndpointPatch(description="patched"))
    assert (patched.url, patched.description) == (URL + "/v2", "patched")
    svix.endpoint.delete(app_id, second.id)
    with pytest.raises(HttpError) as caught:
        svix.endpoint.get(app_id, second.id)
    assert caught.value.status_code == 404


def test_rotation_returns_the_new_secret(svix: Svix, app_id: str) -> None:
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=URL))
    before = svix.endpoint.get_secret(app_id, endpoint.id).key
    rotated = svix.endpoint.rotate_secret(app_id, endpoint.id, EndpointSecretRotateIn())
    assert rotated.key != before and svix.endpoint.get_secret(app_id, endpoint.id).key == rotated.key
    chosen = "whsec_" + base64.b64encode(b"r" * 24).decode()
    assert svix.endpoint.rotate_secret(app_id, endpoint.id, EndpointSecretRotateIn(key=chosen)).key == chosen


def test_rotation_grace_period_over_seven_days_is_refused(svix: Svix, app_id: str) -> None:
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=URL))
    with pytest.raises(HTTPValidationError) as caught:
        svix.endpoint.rotate_secret(
            app_id, endpoint.id, EndpointSecretRotateIn(grace_period_seconds=8 * 24 * 3600)
        )
    assert caught.value.status_code == 422


def test_custom_headers_set_patch_and_redact(svix: Svix, app_id: str) -> None:
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=URL))
    svix.endpoint.set_headers(
        app_id, endpoint.id, EndpointHeadersIn(headers={"X-Tenant": "acme", "Authorization": "Bearer s3cr3t"})
    )
    headers = svix.endpoint.get_headers(app_id, endpoint.id)
    assert headers.headers == {"X-Tenant": "acme"} and headers.sensitive == ["Authorization"]
    svix.endpoint.patch_headers(
        app_id, endpoint.id, EndpointHeadersPatchIn(headers={"X-Extra": "1"}, delete_headers=["X-Tenant"])
    )
    assert svix.endpoint.get_headers(app_id, endpoint.id).headers == {"X-Extra": "1"}


def test_headers_herald_owns_cannot_be_set(svix: Svix, app_id: str) -> None:
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=URL))
    with pytest.raises(HTTPValidationError):
        svix.endpoint.set_headers(app_id, endpoint.id, EndpointHeadersIn(headers={"webhook-id": "x"}))


def test_stats_count_pending_pairs(svix: Svix, app_id: str) -> None:
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=URL))
    for _ in range(3):
        svix.message.create(app_id, MessageIn(event_type="a", payload={}))
    stats = svix.endpoint.get_stats(app_id, endpoint.id)
    assert (stats.pending, stats.success, stats.fail, stats.sending, stats.canceled) == (3, 0, 0, 0, 0)


def test_eleven_channels_is_a_422(svix: Svix, app_id: str) -> None:
    with pytest.raises(HTTPValidationError) as caught:
        svix.endpoint.create(app_id, EndpointIn(url=URL, channels=[f"c{i}" for i in range(11)]))
    assert caught.value.status_code == 422


def test_endpoint_of_an_unknown_app_is_404(svix: Svix) -> None:
    with pytest.raises(HttpError) as caught:
        svix.endpoint.create("app_doesnotexist", EndpointIn(url=URL))
    assert caught.value.status_code == 404
