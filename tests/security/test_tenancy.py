"""Tenant isolation: tenant B can neither see nor touch tenant A's resources, and gets 404 (not 403)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Minter


@pytest.fixture(scope="module")
def clients(herald_url: str, mint: Minter) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    suffix = uuid.uuid4().hex[:8]
    a = httpx.Client(
        base_url=f"{herald_url}/api/v1", headers={"authorization": f"Bearer {mint(f'a-{suffix}')}"}
    )
    b = httpx.Client(
        base_url=f"{herald_url}/api/v1", headers={"authorization": f"Bearer {mint(f'b-{suffix}')}"}
    )
    yield a, b
    a.close()
    b.close()


@pytest.fixture(scope="module")
def resources(clients: tuple[httpx.Client, httpx.Client]) -> dict[str, str]:
    a, _ = clients
    app = a.post("/app", json={"name": "A's app", "uid": "shared-uid"}).json()["id"]
    endpoint = a.post(f"/app/{app}/endpoint", json={"url": "https://a.example.com/hook", "uid": "ep"}).json()[
        "id"
    ]
    msg = a.post(f"/app/{app}/msg", json={"eventType": "a.b", "payload": {"secret": 1}}).json()["id"]
    a.post("/event-type", json={"name": "a.private", "description": "A's"}).raise_for_status()
    return {"app": app, "endpoint": endpoint, "msg": msg}


READS = [
    "/app/{app}",
    "/app/shared-uid",
    "/app/{app}/endpoint",
    "/app/{app}/endpoint/{endpoint}",
    "/app/{app}/endpoint/{endpoint}/secret",
    "/app/{app}/endpoint/{endpoint}/headers",
    "/app/{app}/endpoint/{endpoint}/stats",
    "/app/{app}/msg",
    "/app/{app}/msg/{msg}",
    "/app/{app}/msg/{msg}/endpoint",
    "/app/{app}/attempt/msg/{msg}",
    "/app/{app}/attempt/endpoint/{endpoint}",
    "/app/{app}/endpoint/{endpoint}/msg",
    "/app/{app}/msg/{msg}/attempt/atmpt_x",
    "/event-type/a.private",
]


@pytest.mark.parametrize("path", READS)
def test_reads_of_another_tenants_resources_are_404(
    path: str, clients: tuple[httpx.Client, httpx.Client], resources: dict[str, str]
) -> None:
    a, b = clients
    url = path.format(**resources)
    assert a.get(url).status_code == 200 or url.endswith("atmpt_x")
    response = b.get(url)
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "not_found"


WRITES = [
    ("PATCH", "/app/{app}", {"name": "pwned"}),
    ("PUT", "/app/{app}/endpoint/{endpoint}", {"url": "https://evil.example.com"}),
    ("PATCH", "/app/{app}/endpoint/{endpoint}", {"url": "https://evil.example.com"}),
    ("POST", "/app/{app}/endpoint/{endpoint}/secret/rotate", {}),
    ("PUT", "/app/{app}/endpoint/{endpoint}/headers", {"headers": {"x": "y"}}),
    ("POST", "/app/{app}/endpoint", {"url": "https://evil.example.com"}),
    ("POST", "/app/{app}/msg", {"eventType": "a.b", "payload": {}}),
    ("DELETE", "/app/{app}/msg/{msg}/content", None),
    ("DELETE", "/app/{app}/endpoint/{endpoint}", None),
    ("DELETE", "/app/{app}", None),
    ("PATCH", "/event-type/a.private", {"description": "pwned"}),
    ("DELETE", "/event-type/a.private", None),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_writes_to_another_tenants_resources_are_404_and_change_nothing(
    method: str,
    path: str,
    body: dict[str, object] | None,
    clients: tuple[httpx.Client, httpx.Client],
    resources: dict[str, str],
) -> None:
    a, b = clients
    response = b.request(method, path.format(**resources), json=body)
    assert response.status_code == 404, response.text
    assert a.get(f"/app/{resources['app']}").json()["name"] == "A's app"
    assert (
        a.get(f"/app/{resources['app']}/endpoint/{resources['endpoint']}").json()["url"]
        == "https://a.example.com/hook"
    )
    assert a.get(f"/app/{resources['app']}/msg/{resources['msg']}?with_content=true").json()["payload"] == {
        "secret": 1
    }
    assert a.get("/event-type/a.private").json()["description"] == "A's"


def test_lists_and_uids_are_per_tenant(
    clients: tuple[httpx.Client, httpx.Client], resources: dict[str, str]
) -> None:
    a, b = clients
    assert resources["app"] not in [app["id"] for app in b.get("/app").json()["data"]]
    assert "a.private" not in [et["name"] for et in b.get("/event-type").json()["data"]]
    # The same uid is free in another tenant.
    assert b.post("/app", json={"name": "B's app", "uid": "shared-uid"}).status_code == 201
    assert a.get("/app/shared-uid").json()["id"] == resources["app"]
