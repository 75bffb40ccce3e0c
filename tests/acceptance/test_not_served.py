"""Svix Cloud products Herald does not serve: the SDK gets a JSON 404 naming them, never a bare one."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from svix.api import Svix
from svix.exceptions import HttpError

from blueprints.not_served import METHODS, NOT_SERVED

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


def _concrete(template: str) -> str:
    return "/api/" + re.sub(r"{\*?\w+}", "x1", template)


@pytest.mark.parametrize(
    ("product", "path"),
    [(product, _concrete(route)) for _, product, routes in NOT_SERVED for route in routes],
)
def test_every_method_on_every_unserved_route_is_a_json_404(
    http: httpx.Client, product: str, path: str
) -> None:
    for method in METHODS:
        answer = http.request(method, path, json={} if method != "GET" else None)
        assert answer.status_code == 404, (method, path)
        body = answer.json()
        assert body["code"] == "not_served" and product in body["detail"], (method, path)


def test_unserved_routes_need_a_token(herald_url: str) -> None:
    answer = httpx.get(f"{herald_url}/api/v1/stream")
    assert answer.status_code == 401
