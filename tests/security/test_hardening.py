"""HTTP hardening: security headers, CORS, content types, secrets kept out of reads, SSRF on save."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.hosts import serving_herald
from tests.support.tokens import Minter


@pytest.fixture(scope="module")
def strict_url(herald_env: dict[str, str]) -> Iterator[str]:
    """Herald configured as in production: no loopback exemption, https only, one CORS origin."""
    env = {
        **herald_env,
        "HERALD_DELIVERY_ALLOWED_CIDRS": "",
        "HERALD_DELIVERY_ALLOW_HTTP": "false",
        "HERALD_CORS_ALLOWED_ORIGINS": "https://dashboard.example.com",
    }
    with serving_herald(env) as url:
        yield url


@pytest.fixture
def client(strict_url: str, mint: Minter) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {mint('t-hardening')}"}
    with httpx.Client(base_url=f"{strict_url}/api/v1", headers=headers) as http:
        yield http


def test_every_answer_carries_the_security_headers(client: httpx.Client) -> None:
    for response in (
        client.get("/app"),
        client.get("/app/app_missing"),
        client.get("/health"),
    ):
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["strict-transport-security"].startswith("max-age=")
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"


def test_cors_only_for_allowed_origins(client: httpx.Client) -> None:
    allowed = client.get("/app", headers={"origin": "https://dashboard.example.com"})
    assert allowed.headers["access-control-allow-origin"] == "https://dashboard.example.com"
    other = client.get("/app", headers={"origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in other.headers


def test_bodies_must_be_json(client: httpx.Client) -> None:
    response = client.post(
        "/app", content=b"name=x", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"


def test_secrets_appear_only_on_the_secret_route(client: httpx.Client) -> None:
    app = client.post("/app", json={"name": "A"}).json()["id"]
    created = client.post(f"/app/{app}/endpoint", json={"url": "https://hooks.example.com/h"})
    endpoint = created.json()["id"]
    secret = client.get(f"/app/{app}/endpoint/{endpoint}/secret").json()["key"]
    for body in (
        created.text,
        client.get(f"/app/{app}/endpoint").text,
        client.get(f"/app/{app}/endpoint/{endpoint}").text,
    ):
        assert secret not in body and secret.removeprefix("whsec_") not in body


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:10.0.0.1]/",
        "https://localhost/hook",
        "https://2130706433/",
        "http://hooks.example.com/plain-http",
        "https://hooks.example.com:22/odd-port",
    ],
)
def test_refused_endpoint_urls_are_422_on_create_and_update(client: httpx.Client, url: str) -> None:
    app = client.post("/app", json={"name": "A"}).json()["id"]
    created = client.post(f"/app/{app}/endpoint", json={"url": url})
    assert created.status_code == 422 and created.json()["detail"][0]["loc"] == ["body", "url"]
    endpoint = client.post(f"/app/{app}/endpoint", json={"url": "https://hooks.example.com/ok"}).json()["id"]
    patched = client.patch(f"/app/{app}/endpoint/{endpoint}", json={"url": url})
    assert patched.status_code == 422
    assert client.get(f"/app/{app}/endpoint/{endpoint}").json()["url"] == "https://hooks.example.com/ok"
    assert [e["id"] for e in client.get(f"/app/{app}/endpoint").json()["data"]] == [endpoint]
