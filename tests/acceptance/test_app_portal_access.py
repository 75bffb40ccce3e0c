"""App portal access through the official SDK: a tenant gets a link for one customer's application,
and the token in it works with the Svix SDK for that application and nothing else.

The core scenario (`portal_scenario.py`) runs with the svix 1.x and 2.x SDKs, each in its own
interpreter; the rest with the suite's 2.x SDK. Revocation across instances: tests/security.
Cost: about 3 s (the two scenario runs at once, then a few dozen calls).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from svix.api import (
    ApplicationIn,
    AppPortalAccessIn,
    AppPortalCapability,
    EndpointHeadersIn,
    EndpointIn,
    EndpointSecretRotateIn,
    MessageIn,
    Svix,
    SvixOptions,
)

from tests.acceptance.generations import run_each_generation
from tests.support.sdk import status_of
from tests.support.tokens import ACCEPTANCE_TENANT, Minter

SCENARIO = Path(__file__).with_name("portal_scenario.py")
ALL = ["ViewBase", "ViewEndpointSecret", "ManageEndpointSecret", "CreateAttempts", "ManageEndpoint"]


@pytest.fixture(scope="module")
def scenario_runs(svix1_python: str, herald_url: str, mint: Minter) -> dict[int, dict[str, Any]]:
    token = mint(f"tenant-portal-{uuid.uuid4().hex[:8]}")
    endpoint_url = f"{herald_url}/unreached"
    return run_each_generation(SCENARIO, svix1_python, lambda _generation: [herald_url, token, endpoint_url])


@pytest.mark.parametrize("generation", [1, 2])
def test_the_portal_scenario_works_with_each_sdk_generation(
    scenario_runs: dict[int, dict[str, Any]], herald_url: str, generation: int
) -> None:
    run = scenario_runs[generation]
    assert run["generation"] == generation
    # The link is the portal with the token in the fragment only.
    assert run["url"] == f"{herald_url}/api/portal/#token={run['token']}"
    assert "?" not in run["url"]
    seen = run["seen"]
    assert seen["app"] == run["app_id"] and len(seen["endpoints"]) == 1 and seen["secret_matches"]
    assert seen["created"] == "added" and seen["event_types"]
    # Another application is a 404, as a missing one; what the portal may not do is a 403.
    assert run["refused"] == {
        "other_app": 404,
        "app_list": 403,
        "event_type_create": 403,
        "message_create": 403,
        "new_token": 403,
    }
    assert run["read_only"] == {"list": 2, "secret": 403, "create": 403}
    assert run["expired"] == {
        "viewer": 401,
        "customer": 200,
        "customer_after_logout": 401,
        "tenant_logout": 403,
    }


def _portal(herald_url: str, svix: Svix, app_id: str, **access: Any) -> Svix:
    token = svix.authentication.app_portal_access(app_id, AppPortalAccessIn(**access)).token
    return Svix(token, SvixOptions(server_url=herald_url))


def test_the_token_names_the_tenant_the_application_and_what_it_grants(
    svix: Svix, herald_url: str, app_id: str
) -> None:
    access = svix.authentication.app_portal_access(app_id, AppPortalAccessIn(expiry=3600, session_id="s-1"))
    claims = jwt.decode(access.token, options={"verify_signature": False})
    assert (claims["tid"], claims["app"], claims["sid"], claims["ro"]) == (
        ACCEPTANCE_TENANT,
        app_id,
        "s-1",
        False,
    )
    # Every capability by default (Herald serves five of Svix's six), for the hour asked.
    assert claims["cap"] == ALL and claims["exp"] - claims["iat"] == pytest.approx(3600, abs=1)
    # Seven days by default; ManageTransformations is accepted and grants nothing.
    default = jwt.decode(
        svix.authentication.app_portal_access(
            app_id, AppPortalAccessIn(capabilities=[AppPortalCapability.MANAGE_TRANSFORMATIONS])
        ).token,
        options={"verify_signature": False},
    )
    assert default["cap"] == ["ViewBase"] and default["ro"] is True
    assert default["exp"] - default["iat"] == pytest.approx(7 * 24 * 3600, abs=1)


def test_an_existing_application_is_used_as_it_is_and_a_missing_one_without_details_is_a_404(
    svix: Svix, app_id: str
) -> None:
    before = svix.application.get(app_id)
    access = svix.authentication.app_portal_access(
        before.uid or app_id, AppPortalAccessIn(application=ApplicationIn(name="Ignored"))
    )
    assert jwt.decode(access.token, options={"verify_signature": False})["app"] == app_id
    assert svix.application.get(app_id).name == before.name
    assert (
        status_of(
            lambda: svix.authentication.app_portal_access(
                f"missing-{uuid.uuid4().hex[:8]}", AppPortalAccessIn()
            )
        )
        == 404
    )


@pytest.mark.parametrize(
    "body",
    [
        {"expiry": 3599},
        {"expiry": 7 * 24 * 3600 + 1},
        {"capabilities": ["Admin"]},
        {"sessionId": "has space"},
        {"sessionId": "x" * 65},
        {"featureFlags": []},
        {"application": {"uid": "no-name"}},
    ],
)
def test_invalid_access_requests_are_a_422(http: Any, app_id: str, body: dict[str, Any]) -> None:
    answer = http.post(f"/api/v1/auth/app-portal-access/{app_id}", json=body)
    assert answer.status_code == 422, answer.text


def test_expire_all_takes_svix_bounds(http: Any, app_id: str) -> None:
    for body in ({"expiry": -1}, {"expiry": 3 * 24 * 3600 + 1}, {"sessionIds": ["a b"]}):
        assert http.post(f"/api/v1/auth/app/{app_id}/expire-all", json=body).status_code == 422
    assert (
        http.post(f"/api/v1/auth/app/missing-{uuid.uuid4().hex[:6]}/expire-all", json={}).status_code == 404
    )


def test_each_capability_reaches_what_svix_says_it_does(svix: Svix, herald_url: str, app_id: str) -> None:
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=f"{herald_url}/unreached"))
    svix.endpoint.set_headers(app_id, endpoint.id, EndpointHeadersIn(headers={"X-Customer-Ref": "c-1"}))
    msg = svix.message.create(app_id, MessageIn(event_type="invoice.paid", payload={"n": 1}))
    base = _portal(herald_url, svix, app_id, capabilities=["ViewBase"])
    viewer = _portal(herald_url, svix, app_id, capabilities=["ViewEndpointSecret"])
    rotator = _portal(herald_url, svix, app_id, capabilities=["ManageEndpointSecret"])
    resender = _portal(herald_url, svix, app_id, capabilities=["CreateAttempts"])
    manager = _portal(herald_url, svix, app_id, capabilities=["ManageEndpoint"])
    # ViewBase: the application's endpoints, messages and header names; no secret, no header value.
    assert [m.id for m in base.message.list(app_id).data] == [msg.id]
    assert base.endpoint.get_headers(app_id, endpoint.id).sensitive == ["X-Customer-Ref"]
    assert status_of(lambda: base.endpoint.get_secret(app_id, endpoint.id)) == 403
    # ViewEndpointSecret reads the secret and nothing more.
    secret = svix.endpoint.get_secret(app_id, endpoint.id).key
    assert viewer.endpoint.get_secret(app_id, endpoint.id).key == secret
    assert (
        status_of(lambda: viewer.endpoint.rotate_secret(app_id, endpoint.id, EndpointSecretRotateIn())) == 403
    )
    # ManageEndpointSecret also rotates; it changes no other setting.
    rotator.endpoint.rotate_secret(app_id, endpoint.id, EndpointSecretRotateIn())
    assert rotator.endpoint.get_secret(app_id, endpoint.id).key != secret
    assert status_of(lambda: rotator.endpoint.delete(app_id, endpoint.id)) == 403
    # CreateAttempts resends; ManageEndpoint changes endpoints (and sees header values), but resends nothing.
    resender.message_attempt.resend(app_id, msg.id, endpoint.id)
    assert status_of(lambda: manager.message_attempt.resend(app_id, msg.id, endpoint.id)) == 403
    assert manager.endpoint.get_headers(app_id, endpoint.id).headers == {"X-Customer-Ref": "c-1"}
    manager.endpoint.delete(app_id, endpoint.id)
    assert svix.endpoint.list(app_id).data == []
