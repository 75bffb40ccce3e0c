"""Quotas and per-tenant outbound limits over HTTP: each refusal is a clear 4xx (or a 503 to retry),
and a refused request writes nothing.

One Herald of the module's own on devhost, with small limits: 3 endpoints per application, 2
custom headers of at most 96 bytes, metadata of 2 entries and 64 bytes, 3 event types and 2
channels per endpoint; and one outbound request in flight per tenant, so a receiver that never
answers (a loopback tarpit) holds a tenant's whole share while a test looks.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.hosts import serving_herald
from tests.support.receivers import running_tarpits
from tests.support.tokens import Minter
from tests.support.waiting import eventually

LIMITS = {
    "HERALD_MAX_ENDPOINTS_PER_APP": "3",
    "HERALD_MAX_HEADERS_PER_ENDPOINT": "2",
    "HERALD_MAX_HEADER_BYTES": "96",
    "HERALD_MAX_METADATA_ENTRIES": "2",
    "HERALD_MAX_METADATA_BYTES": "64",
    "HERALD_MAX_ENDPOINT_EVENT_TYPES": "3",
    "HERALD_MAX_ENDPOINT_CHANNELS": "2",
    "HERALD_OUTBOUND_PER_TENANT": "1",
    "HERALD_OUTBOUND_WAIT_SECONDS": "0.3",
    # Each request to the tarpit hangs this long; no retries, so a failure is final at once.
    "HERALD_DELIVERY_TIMEOUT_SECONDS": "2",
    "HERALD_RETRY_SCHEDULE": "",
}


@pytest.fixture(scope="module")
def quota_url(herald_env: dict[str, str]) -> Iterator[str]:
    with serving_herald({**herald_env, **LIMITS}) as url:
        yield url


@pytest.fixture
def api(quota_url: str, mint: Minter) -> Iterator[httpx.Client]:
    token = mint(f"t-quota-{uuid.uuid4().hex[:8]}")
    with httpx.Client(base_url=f"{quota_url}/api/v1", headers={"authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.fixture(scope="module")
def tarpit() -> Iterator[str]:
    """A loopback server that accepts connections and never answers; yields its URL."""
    with running_tarpits(1) as tarpits:
        yield tarpits.url


def _app(api: httpx.Client) -> str:
    answer = api.post("/app", json={"name": "quotas"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _endpoint(api: httpx.Client, app_id: str, **fields: Any) -> httpx.Response:
    return api.post(f"/app/{app_id}/endpoint", json={"url": "https://hooks.example.com/x", **fields})


def _refused(answer: httpx.Response, field: str) -> None:
    assert answer.status_code == 422, answer.text
    (error,) = answer.json()["detail"]
    assert error["loc"] == ["body", field] and error["type"] == "value_error.quota", error


def test_an_application_holds_at_most_its_quota_of_endpoints(api: httpx.Client) -> None:
    app_id = _app(api)
    made = [_endpoint(api, app_id).json()["id"] for _ in range(3)]
    over = _endpoint(api, app_id, uid="fourth")
    assert over.status_code == 409 and over.json()["code"] == "quota_exceeded", over.text
    # A PUT that would create one more is the same create.
    assert (
        api.put(f"/app/{app_id}/endpoint/fourth", json={"url": "https://h.example.com/"}).status_code == 409
    )
    # Nothing was written: neither the endpoint nor its uid.
    listed = api.get(f"/app/{app_id}/endpoint").json()["data"]
    assert sorted(e["id"] for e in listed) == sorted(made)
    assert api.get(f"/app/{app_id}/endpoint/fourth").status_code == 404
    # Room again once one goes.
    assert api.delete(f"/app/{app_id}/endpoint/{made[0]}").status_code == 204
    assert _endpoint(api, app_id, uid="fourth").status_code == 201


def test_a_tenant_holds_at_most_its_quota_of_operational_endpoints(api: httpx.Client) -> None:
    body = {"url": "https://ops.example.com/x"}
    assert [api.post("/operational-webhook/endpoint", json=body).status_code for _ in range(4)] == [
        201,
        201,
        201,
        409,
    ]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"headers": {"X-A": "1", "X-B": "2", "X-C": "3"}}, "headers"),
        ({"headers": {"X-Long": "v" * 100}}, "headers"),
        ({"metadata": {"a": "1", "b": "2", "c": "3"}}, "metadata"),
        ({"metadata": {"big": "m" * 80}}, "metadata"),
        ({"eventTypes": ["a", "b", "c", "d"]}, "eventTypes"),
        ({"channels": ["c1", "c2", "c3"]}, "channels"),
    ],
)
def test_an_endpoint_over_a_field_quota_is_a_422_and_is_not_created(
    api: httpx.Client, fields: dict[str, Any], field: str
) -> None:
    app_id = _app(api)
    _refused(_endpoint(api, app_id, **fields), field)
    assert api.get(f"/app/{app_id}/endpoint").json()["data"] == []


def test_updates_over_a_quota_are_refused_and_change_nothing(api: httpx.Client) -> None:
    app_id = _app(api)
    endpoint = _endpoint(api, app_id, headers={"X-A": "1"}, metadata={"k": "v"}).json()["id"]
    path = f"/app/{app_id}/endpoint/{endpoint}"
    _refused(api.patch(f"{path}/headers", json={"headers": {"X-B": "2", "X-C": "3"}}), "headers")
    _refused(api.patch(path, json={"metadata": {"a": "1", "b": "2", "c": "3"}}), "metadata")
    _refused(
        api.put(path, json={"url": "https://hooks.example.com/x", "eventTypes": ["a", "b", "c", "d"]}),
        "eventTypes",
    )
    assert api.get(f"{path}/headers").json()["headers"] == {"X-A": "1"}
    assert api.get(path).json()["metadata"] == {"k": "v"}


def test_application_metadata_over_its_quota_is_a_422(api: httpx.Client) -> None:
    _refused(api.post("/app", json={"name": "m", "metadata": {"a": "1", "b": "2", "c": "3"}}), "metadata")
    app_id = _app(api)
    _refused(api.patch(f"/app/{app_id}", json={"metadata": {"big": "m" * 80}}), "metadata")
    assert api.get(f"/app/{app_id}").json()["metadata"] == {}


def test_while_a_recovery_runs_a_second_is_409_and_a_busy_tenant_share_answers_503(
    api: httpx.Client, tarpit: str
) -> None:
    app_id = _app(api)
    endpoint = _endpoint(api, app_id, url=tarpit).json()["id"]
    msg = api.post(f"/app/{app_id}/msg", json={"eventType": "a", "payload": {}}).json()["id"]
    # Its only attempt hangs on the tarpit until the timeout: then the pair has failed for good.
    eventually(lambda: api.get(f"/app/{app_id}/msg/{msg}/endpoint").json()["data"][0]["statusText"] == "fail")

    since = "2020-01-01T00:00:00Z"
    first = api.post(f"/app/{app_id}/endpoint/{endpoint}/recover", json={"since": since})
    assert first.status_code == 202, first.text
    # Its resend now hangs on the tarpit, holding the tenant's one outbound slot.
    second = api.post(f"/app/{app_id}/endpoint/{endpoint}/recover", json={"since": since})
    assert second.status_code == 409 and second.json()["code"] == "recovery_in_progress", second.text
    assert first.json()["id"] in second.json()["detail"]

    # A resend meanwhile finds the tenant's share busy: 503 to retry, nothing sent or recorded.
    attempts = len(api.get(f"/app/{app_id}/attempt/endpoint/{endpoint}").json()["data"])
    busy = api.post(f"/app/{app_id}/msg/{msg}/endpoint/{endpoint}/resend")
    assert busy.status_code == 503 and busy.json()["code"] == "outbound_busy", busy.text
    assert int(busy.headers["retry-after"]) >= 1
    task = api.get(f"/background-task/{first.json()['id']}").json()
    assert task["status"] == "running"

    # Once the first recovery has finished, the endpoint may be recovered again.
    eventually(lambda: api.get(f"/background-task/{first.json()['id']}").json()["status"] == "finished")
    assert len(api.get(f"/app/{app_id}/attempt/endpoint/{endpoint}").json()["data"]) == attempts + 1
    assert api.post(f"/app/{app_id}/endpoint/{endpoint}/recover", json={"since": since}).status_code == 202
