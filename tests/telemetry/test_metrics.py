"""GET /api/v1/metrics: Prometheus text for herald.operator, and counters that move with the work."""

from __future__ import annotations

import json
import uuid

from prometheus_client.parser import text_string_to_metric_families

from blueprints import metrics as metrics_blueprint
from shared import telemetry
from shared.scopes import Scope
from tests.support.receivers import Receiver
from tests.telemetry.conftest import Api, run_activity

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def _scrape(api: Api) -> Samples:
    response = await api.call(
        metrics_blueprint.metrics,
        "GET",
        "v1/metrics",
        scope=Scope.OPERATOR,
        token=api.mint(api.tenant, Scope.OPERATOR.value),
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = response.get_body().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def _app_and_endpoint(api: Api, url: str) -> str:
    app_id = await api.create_app("M")
    await api.create_endpoint(app_id, {"url": url})
    return app_id


async def _send(api: Api, app_id: str) -> None:
    await api.create_message(app_id, {"eventType": "a", "payload": {"n": 1}})


async def test_the_metrics_route_needs_the_operator_scope_and_answers_json_errors(api: Api) -> None:
    anonymous = await api.call(metrics_blueprint.metrics, "GET", "v1/metrics", scope=Scope.OPERATOR, token="")
    forged = await api.call(
        metrics_blueprint.metrics, "GET", "v1/metrics", scope=Scope.OPERATOR, token="x.y.z"
    )
    # A tenant's every scope, herald.admin included: the platform's figures are not a tenant's.
    writer = await api.call(
        metrics_blueprint.metrics,
        "GET",
        "v1/metrics",
        scope=Scope.OPERATOR,
        token=api.mint(api.tenant, "herald.read herald.write herald.admin"),
    )
    assert (anonymous.status_code, forged.status_code, writer.status_code) == (401, 401, 403)
    assert writer.mimetype == "application/json"
    assert json.loads(writer.get_body())["code"]


def test_the_route_is_registered_for_herald_operator() -> None:
    from blueprints._http import ROUTES

    (route,) = [r for r in ROUTES if r.name == "metrics"]
    assert (route.method, route.route, route.scope) == ("GET", "v1/metrics", Scope.OPERATOR.value)


async def test_counters_move_after_a_delivery(api: Api, receiver: Receiver) -> None:
    app_id = await _app_and_endpoint(api, receiver.url(f"m-{uuid.uuid4().hex[:6]}", 200))
    before = await _scrape(api)
    await _send(api, app_id)
    after = await _scrape(api)

    def moved(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert moved("herald_deliveries_total", outcome="success") == 1
    assert moved("herald_deliveries_total", outcome="failure") == 0
    assert moved("herald_attempt_duration_seconds_count", outcome="success") == 1
    assert moved("herald_dispatch_lag_seconds_count") == 1
    store: dict[str, float] = {}
    for (name, labels), value in after.items():
        if name == "herald_store_operations_total" and dict(labels)["outcome"] == "success":
            container = dict(labels)["container"]
            store[container] = store.get(container, 0) + value - before.get((name, labels), 0)
    # The message and its attempt are written (how many requests that takes is the services' choice).
    assert store["messages"] >= 2
    assert store.get("idempotency", 0) == 0  # no idempotency-key was sent
    assert (
        moved("herald_store_operations_total", container="durable", operation="start_new", outcome="success")
        == 0
    )
    route = "v1/app/{app_id}/msg"
    assert moved("herald_api_requests_total", route=route, method="POST", status="202") == 1
    assert moved("herald_api_duration_seconds_count", route=route, method="POST") == 1
    # The scrape before this one counted too.
    assert moved("herald_api_requests_total", route="v1/metrics", method="GET", status="200") == 1


async def test_retries_pending_and_exhausted_follow_the_workflows(api: Api, receiver: Receiver) -> None:
    app_id = await _app_and_endpoint(api, receiver.url(f"down-{uuid.uuid4().hex[:6]}", 500))
    before = await _scrape(api)
    await _send(api, app_id)
    middle = await _scrape(api)
    ((_, _, workflow_input),) = api.client.started
    # A one-retry schedule, frozen into the workflow as the settings would freeze it.
    outcome = await run_activity({**workflow_input, "schedule": [5]}, attempts=1)
    after = await _scrape(api)

    assert outcome == {"status": "fail", "retryIn": None, "attempted": True}
    assert _value(middle, "herald_retries_pending") - _value(before, "herald_retries_pending") == 1
    assert _value(after, "herald_retries_pending") - _value(before, "herald_retries_pending") == 0
    assert _value(after, "herald_exhausted_total") - _value(before, "herald_exhausted_total") == 1
    assert (
        _value(after, "herald_deliveries_total", outcome="failure")
        - _value(before, "herald_deliveries_total", outcome="failure")
        == 2
    )
    started = ("herald_store_operations_total", "durable", "start_new")
    assert (
        _value(middle, started[0], container=started[1], operation=started[2], outcome="success")
        - _value(before, started[0], container=started[1], operation=started[2], outcome="success")
        == 1
    )


async def test_open_circuits_are_a_gauge_the_breaker_reports_to(api: Api) -> None:
    endpoint = f"ep_{uuid.uuid4().hex}"
    before = _value(await _scrape(api), "herald_circuits_open")
    telemetry.record_circuit(endpoint, True)
    telemetry.record_circuit(endpoint, True)  # reported twice, counted once
    opened = _value(await _scrape(api), "herald_circuits_open")
    telemetry.record_circuit(endpoint, False)
    closed = _value(await _scrape(api), "herald_circuits_open")
    assert (opened - before, closed - before) == (1, 0)


async def test_the_poison_queue_depth_is_a_gauge(api: Api) -> None:
    telemetry.record_poison_depth(3)
    assert _value(await _scrape(api), "herald_inbound_poison_depth") == 3
    telemetry.record_poison_depth(0)
    assert _value(await _scrape(api), "herald_inbound_poison_depth") == 0
