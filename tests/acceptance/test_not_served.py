"""Svix Cloud products Herald does not serve: the SDK gets a JSON 404 naming them, never a bare one."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from svix.api import Svix
from svix.exceptions import HttpError

from tests.support.tokens import Minter

SDK_CALLS: list[tuple[str, Callable[[Svix, str], Any]]] = [
    ("Transformations", lambda svix, app: svix.endpoint.transformation.get(app, "ep_x")),
    ("Integrations", lambda svix, app: svix.integration.list(app)),
    ("Integrations", lambda svix, app: svix.integration.delete(app, "integ_x")),
    ("Stream", lambda svix, app: svix.streaming.stream.list()),
    ("Stream", lambda svix, app: svix.streaming.sink.get("strm_x", "sink_x")),
    ("Stream", lambda svix, app: svix.destination.list(app)),
    ("Pollers", lambda svix, app: svix.message.poller.poll(app, "sink_x")),
    ("Connectors", lambda svix, app: svix.connector.list()),
    ("Auto-configuration", lambda svix, app: svix.autoconfig_subscription.delete(app, "ac_x")),
]


@pytest.mark.parametrize(
    ("product", "call"), SDK_CALLS, ids=[f"{p}-{i}" for i, (p, _) in enumerate(SDK_CALLS)]
)
def test_the_sdk_gets_a_404_naming_the_product(
    svix: Svix, app_id: str, product: str, call: Callable[[Svix, str], Any]
) -> None:
    with pytest.raises(HttpError) as caught:
        call(svix, app_id)
    assert caught.value.status_code == 404
    assert caught.value.code == "not_served" and product in str(caught.value.detail)


UNSERVED_PATHS = [
    ("Transformations", "/api/v1/app/app_x/endpoint/ep_x/transformation"),
    ("Integrations", "/api/v1/app/app_x/integration"),
    ("Integrations", "/api/v1/app/app_x/integration/integ_x/key/rotate"),
    ("Stream", "/api/v1/stream"),
    ("Stream", "/api/v1/stream/strm_x/sink/sink_x/transformation"),
    ("Stream", "/api/v1/stream/event-type/a.b"),
    ("Stream", "/api/v1/auth/stream/strm_x/sink/sink_x/poller/token"),
    ("Stream", "/api/v1/auth/stream-logout"),
    ("Stream", "/api/v1/auth/stream-portal-access/strm_x"),
    ("Stream", "/api/v1/app/app_x/destination/dest_x/secret/rotate"),
    ("Pollers", "/api/v1/app/app_x/poller/sink_x/consumer/c_x/seek"),
    ("Pollers", "/api/v1/app/app_x/polling-endpoint/sink_x/consumer/c_x/commit"),
    ("Connectors", "/api/v1/connector"),
    ("Connectors", "/api/v1/connector/conn_x"),
    ("Auto-configuration", "/api/v1/app/app_x/autoconfig/ac_x/endpoint"),
    ("Auto-configuration", "/api/v1/app/app_x/endpoint/ep_x/auto-config"),
]


@pytest.fixture
def own_http(herald_url: str, mint: Minter) -> Iterator[httpx.Client]:
    """Raw HTTP as a tenant of the test's own: its many requests spend no other test's rate limit."""
    token = mint(f"tenant-{uuid.uuid4().hex[:12]}")
    with httpx.Client(base_url=herald_url, headers={"authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.mark.parametrize(("product", "path"), UNSERVED_PATHS)
def test_every_method_on_every_unserved_path_is_a_json_404(
    own_http: httpx.Client, product: str, path: str
) -> None:
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        answer = own_http.request(method, path, json={} if method != "GET" else None)
        assert answer.status_code == 404, (method, path)
        body = answer.json()
        assert body["code"] == "not_served" and product in body["detail"], (method, path)


def test_other_unknown_paths_are_a_json_404_and_wrong_methods_a_405(http: httpx.Client, app_id: str) -> None:
    for path in ("/api/v1/nothing-here", "/api/v1/app/app_x/nothing/deeper", "/api/v1"):
        answer = http.get(path)
        assert (answer.status_code, answer.json()["code"]) == (404, "not_found"), path
    # A served path with a method it does not take: 405, naming the methods it takes.
    answer = http.put(f"/api/v1/app/{app_id}/msg", json={})
    assert (answer.status_code, answer.json()["code"]) == (405, "method_not_allowed")
    assert answer.headers["allow"] == "GET, POST"


def test_unserved_routes_need_a_token(herald_url: str) -> None:
    answer = httpx.get(f"{herald_url}/api/v1/stream")
    assert answer.status_code == 401
