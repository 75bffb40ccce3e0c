"""Custom headers: only RFC 9110 names and safe values, none of the headers Herald or HTTP owns.

Every refusal is a 422 with Svix's error body naming the header, on every route that saves custom
headers (endpoint create, headers PUT and PATCH, and the operational-webhook equivalents), and
nothing is half-written.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.tokens import Minter

# Names Herald or the transport owns, in the spellings a receiver or proxy would read as them.
OWNED_NAMES = [
    "Transfer-Encoding\t",  # a TAB after the name: read as Transfer-Encoding beside Content-Length
    " Content-Length",
    "content-length ",
    "Transfer-Encoding",
    "Host",
    "HOST",
    "Connection",
    "Keep-Alive",
    "TE",
    "Trailer",
    "Upgrade",
    "Expect",
    "Proxy-Authorization",
    "Proxy-Connection",
    "Content-Encoding",
    "Content-Type",
    "User-Agent",
    "Traceparent",
    "tracestate",
    "Baggage",
    "Webhook-Signature",
    "webhook-id",
    "Webhook-Timestamp",
    "Svix-Signature",
    "svix-id",
    "Signature",
    "Signature-Input",
]
# Names that are not RFC 9110 tokens.
NOT_TOKENS = [
    "",
    "X Space",
    "X:Colon",
    "X-Evil\r\nInjected",
    "X-Line\n",
    "X-Null\x00",
    "H\u00f6st",
    "X-(paren)",
]
# Values with a control character other than TAB.
BAD_VALUES = ["a\r\nInjected: 1", "a\nb", "a\rb", "a\x00b", "a\x7fb", "a\x0bb", "\x1b[2J", "a\x85b"]
# Accepted: every tchar in a name; TAB, obs-text and UTF-8 text in values.
GOOD = {
    "X-Api-Key": "k-123",
    "x!#$%&'*+-.^_`|~09AZaz": "v",
    "X-Tab": "a\tb",
    "X-Latin": "caf\u00e9",
    "X-Text": "\u20ac \u2713",
    "Authorization": "Bearer abc",
}


@pytest.fixture
def client(herald_url: str, mint: Minter, tenant: str) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {mint(tenant)}"}
    with httpx.Client(base_url=f"{herald_url}/api/v1", headers=headers) as http:
        yield http


def _refused(answer: httpx.Response, name: str) -> str:
    assert answer.status_code == 422, (name, answer.text)
    (error,) = answer.json()["detail"]
    assert error["loc"] == ["body", "headers", name] and error["type"] == "value_error"
    return str(error["msg"])


def test_owned_names_are_refused_on_their_normalised_name_on_every_route(client: httpx.Client) -> None:
    app = client.post("/app", json={"name": "headers"}).json()["id"]
    url = "https://93.184.216.34/h"
    endpoint = client.post(f"/app/{app}/endpoint", json={"url": url, "headers": {"X-Kept": "1"}}).json()["id"]
    ops = client.post("/operational-webhook/endpoint", json={"url": url}).json()["id"]
    for name in OWNED_NAMES:
        headers = {name: "chunked"}
        msg = _refused(client.post(f"/app/{app}/endpoint", json={"url": url, "headers": headers}), name)
        assert f"'{name.strip().lower()}'" in msg and "cannot be set" in msg
        _refused(client.patch(f"/app/{app}/endpoint/{endpoint}/headers", json={"headers": headers}), name)
    # The routes share one check: a few spellings on each of the others.
    for name in OWNED_NAMES[:3]:
        headers = {name: "chunked"}
        _refused(client.put(f"/app/{app}/endpoint/{endpoint}/headers", json={"headers": headers}), name)
        _refused(client.post("/operational-webhook/endpoint", json={"url": url, "headers": headers}), name)
        _refused(client.put(f"/operational-webhook/endpoint/{ops}/headers", json={"headers": headers}), name)
    # Nothing half-written: one endpoint each, the headers as they were.
    assert len(client.get(f"/app/{app}/endpoint").json()["data"]) == 1
    assert len(client.get("/operational-webhook/endpoint").json()["data"]) == 1
    assert client.get(f"/app/{app}/endpoint/{endpoint}/headers").json()["headers"] == {"X-Kept": "1"}


def test_names_must_be_tokens_and_values_free_of_controls(client: httpx.Client) -> None:
    app = client.post("/app", json={"name": "headers"}).json()["id"]
    url = "https://93.184.216.34/h"
    endpoint = client.post(f"/app/{app}/endpoint", json={"url": url}).json()["id"]
    ops = client.post("/operational-webhook/endpoint", json={"url": url}).json()["id"]
    for name in NOT_TOKENS:
        msg = _refused(client.post(f"/app/{app}/endpoint", json={"url": url, "headers": {name: "v"}}), name)
        assert "token" in msg
        _refused(client.patch(f"/app/{app}/endpoint/{endpoint}/headers", json={"headers": {name: "v"}}), name)
    for value in BAD_VALUES:
        body = {"headers": {"X-Value": value}}
        msg = _refused(client.post(f"/app/{app}/endpoint", json={"url": url, **body}), "X-Value")
        assert "control characters" in msg and value not in msg
        _refused(client.put(f"/app/{app}/endpoint/{endpoint}/headers", json=body), "X-Value")
    _refused(client.put(f"/operational-webhook/endpoint/{ops}/headers", json=body), "X-Value")
    assert client.get(f"/app/{app}/endpoint/{endpoint}/headers").json()["headers"] == {}


def test_safe_headers_are_kept_and_a_name_is_never_stored_twice(client: httpx.Client) -> None:
    app = client.post("/app", json={"name": "headers"}).json()["id"]
    url = "https://93.184.216.34/h"
    created = client.post(f"/app/{app}/endpoint", json={"url": url, "headers": GOOD})
    assert created.status_code == 201, created.text
    endpoint = created.json()["id"]
    stored = client.get(f"/app/{app}/endpoint/{endpoint}/headers").json()
    # Sensitive ones are listed by name only.
    assert set(stored["headers"]) | set(stored["sensitive"]) == set(GOOD)
    assert all(GOOD[name] == value for name, value in stored["headers"].items())
    # Header names are case-insensitive: a patch replaces the stored one, a delete removes it.
    patched = client.patch(
        f"/app/{app}/endpoint/{endpoint}/headers",
        json={"headers": {"x-latin": "na\u00efve"}, "deleteHeaders": ["X-TAB"]},
    )
    assert patched.status_code == 204, patched.text
    headers = client.get(f"/app/{app}/endpoint/{endpoint}/headers").json()["headers"]
    assert headers["x-latin"] == "na\u00efve" and "X-Latin" not in headers and "X-Tab" not in headers
    twice = client.put(f"/app/{app}/endpoint/{endpoint}/headers", json={"headers": {"X-A": "1", "x-a": "2"}})
    assert "more than once" in _refused(twice, "x-a")
