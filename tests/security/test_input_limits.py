"""What Herald refuses at the door, before anything is stored: bodies nested too deep, text that is
not Unicode (lone surrogates), bodies whose declared length is over the limit.

Against Herald on devhost, with the official `svix` SDK where it can send the body and raw httpx
(or a raw socket) where it cannot. Every refusal is a 4xx with a JSON body and leaves nothing
behind; what is just inside the limits is stored, read back, listed and delivered intact.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import azure.functions as func
import httpx
import pytest
from svix.api import (
    ApplicationIn,
    EndpointIn,
    MessageCreateOptions,
    MessageGetOptions,
    MessageIn,
    MessageListOptions,
    Svix,
    SvixOptions,
)
from svix.exceptions import HttpError

from blueprints import applications
from blueprints._http import serve
from shared.jsonbody import MAX_DEPTH
from shared.scopes import Scope
from shared.services.registry import Services
from shared.store.base import MESSAGES
from shared.store.cosmos import CosmosStore
from tests.support.receivers import Receiver
from tests.support.tokens import Minter

LIMIT = 1024 * 1024 + 64 * 1024  # HERALD_MAX_REQUEST_BYTES's default
# devhost's own limit, the Functions host's default.
HOST_LIMIT = 100 * 1024 * 1024


def nested(levels: int, leaf: str = '"x"') -> str:
    """JSON text of `levels` objects, one inside the other, around `leaf`: {"a":{"a":...}}."""
    return '{"a":' * levels + leaf + "}" * levels


def nested_lists(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.fixture(scope="module")
def tenant() -> str:
    return f"t-limits-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def tenant_token(mint: Minter, tenant: str) -> str:
    return mint(tenant)


@pytest.fixture(scope="module")
def svix(herald_url: str, tenant_token: str) -> Svix:
    return Svix(tenant_token, SvixOptions(server_url=herald_url))


@pytest.fixture
def http(herald_url: str, tenant_token: str) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {tenant_token}", "content-type": "application/json"}
    with httpx.Client(base_url=f"{herald_url}/api/v1", headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
def app_id(svix: Svix) -> str:
    return svix.application.create(ApplicationIn(name="Limits")).id


def _refused(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text[:300]
    body: dict[str, Any] = response.json()
    assert body["code"] == "invalid_json"
    return body


def _nothing_stored(http: httpx.Client, app_id: str, event_type: str | None = None) -> None:
    assert http.get(f"/app/{app_id}/msg").json()["data"] == []
    assert http.get(f"/app/{app_id}/endpoint").json()["data"] == []
    if event_type is not None:
        assert http.get(f"/event-type/{event_type}").status_code == 404


# --- nesting ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        nested(MAX_DEPTH),  # the body is one level deeper: just over the limit
        nested(300),  # past pydantic's serializer (255) and Cosmos DB's limit (128)
        nested_lists(20_000),  # past what Python's parser recurses into
        nested_lists(500_000),  # a megabyte of brackets, inside the size limit
    ],
    ids=["limit+1", "300", "20000", "500000"],
)
def test_a_message_nested_too_deep_is_400_and_stores_nothing(
    http: httpx.Client, app_id: str, payload: str
) -> None:
    body = f'{{"eventType":"deep","payload":{payload}}}'
    assert len(body) <= LIMIT
    key = {"idempotency-key": f"deep-{uuid.uuid4().hex}"}
    refused = _refused(http.post(f"/app/{app_id}/msg", content=body, headers=key))
    assert f"deeper than {MAX_DEPTH} levels" in refused["detail"]
    _nothing_stored(http, app_id)
    # The refusal was not kept as the key's answer: the same key with a good body creates.
    created = http.post(f"/app/{app_id}/msg", json={"eventType": "deep", "payload": {"ok": 1}}, headers=key)
    assert created.status_code == 202 and created.json()["payload"] == {"ok": 1}, created.text


def test_deep_metadata_schemas_and_bodies_are_400_on_every_resource(http: httpx.Client, app_id: str) -> None:
    event_type = f"deep.{uuid.uuid4().hex[:8]}"
    deep = nested(300)
    attempts = {
        "application": http.post("/app", content=f'{{"name":"A","uid":"deep-{app_id}","metadata":{deep}}}'),
        "endpoint": http.post(
            f"/app/{app_id}/endpoint", content=f'{{"url":"https://hooks.example.com/h","metadata":{deep}}}'
        ),
        "event type": http.post(
            "/event-type", content=f'{{"name":"{event_type}","description":"d","schemas":{deep}}}'
        ),
        "whole body": http.post(f"/app/{app_id}/msg", content=nested_lists(MAX_DEPTH + 1)),
    }
    for what, response in attempts.items():
        assert response.status_code == 400, f"{what}: {response.status_code} {response.text[:200]}"
        assert response.json()["code"] == "invalid_json"
    assert http.get(f"/app/deep-{app_id}").status_code == 404
    _nothing_stored(http, app_id, event_type)


def test_the_sdk_gets_a_400_for_a_payload_one_level_too_deep(svix: Svix, app_id: str) -> None:
    with pytest.raises(HttpError) as caught:
        svix.message.create(app_id, MessageIn(event_type="deep", payload=json.loads(nested(MAX_DEPTH))))
    assert caught.value.status_code == 400
    assert svix.message.list(app_id).data == []


def test_a_payload_at_the_limit_is_stored_read_listed_and_delivered(
    svix: Svix, app_id: str, receiver: Receiver
) -> None:
    # The message body is MAX_DEPTH deep: its payload one level less, the innermost a list.
    payload = json.loads(nested(MAX_DEPTH - 2, '[1,"\\ud83d\\ude00"]'))
    path = f"deep-{app_id}"
    svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 200)))
    created = svix.message.create(
        app_id, MessageIn(event_type="deep", payload=payload), MessageCreateOptions(with_content=True)
    )
    assert created.payload == payload
    assert svix.message.get(app_id, created.id, MessageGetOptions(with_content=True)).payload == payload
    (listed,) = svix.message.list(app_id, MessageListOptions(with_content=True)).data
    assert listed.payload == payload
    (delivered,) = receiver.wait_for(path, 1)
    assert json.loads(delivered.body) == payload


async def test_a_payload_stored_deeper_than_the_limit_can_still_be_read(
    herald_url: str, tenant_token: str, app_id: str, store: CosmosStore, tenant: str
) -> None:
    headers = {"authorization": f"Bearer {tenant_token}"}
    async with httpx.AsyncClient(base_url=f"{herald_url}/api/v1/app/{app_id}", headers=headers) as http:
        created = (await http.post("/msg", json={"eventType": "legacy", "payload": {}})).json()
        # As one accepted before bodies were bounded (the local Cosmos server has no depth limit).
        deep = json.loads(nested(300))
        patch = [{"op": "set", "path": "/payload", "value": deep}]
        await store.patch(MESSAGES, [tenant, app_id], created["id"], patch)
        read = await http.get(f"/msg/{created['id']}")
        assert read.status_code == 200 and read.json()["payload"] == deep
        listed = await http.get("/msg", params={"with_content": "true"})
        assert listed.status_code == 200 and listed.json()["data"][0]["payload"] == deep


# --- lone surrogates -------------------------------------------------------------------------------


def test_lone_surrogates_are_400_wherever_they_are(http: httpx.Client, app_id: str) -> None:
    event_type = f"text.{uuid.uuid4().hex[:8]}"
    attempts = {
        "payload value": (f"/app/{app_id}/msg", '{"eventType":"t","payload":{"a":"\\ud800"}}'),
        "payload key": (f"/app/{app_id}/msg", '{"eventType":"t","payload":{"\\udfff":1}}'),
        "payload, deep": (
            f"/app/{app_id}/msg",
            '{"eventType":"t","payload":' + nested(10, '["\\uDBFF"]') + "}",
        ),
        "low before high": (f"/app/{app_id}/msg", '{"eventType":"t","payload":{"a":"\\udc00\\ud800"}}'),
        "endpoint metadata": (
            f"/app/{app_id}/endpoint",
            '{"url":"https://hooks.example.com/h","metadata":{"k":"\\ud800"}}',
        ),
        "endpoint description": (
            f"/app/{app_id}/endpoint",
            '{"url":"https://hooks.example.com/h","description":"\\ud800"}',
        ),
        "event type description": ("/event-type", f'{{"name":"{event_type}","description":"\\ud800"}}'),
        "application name": ("/app", f'{{"name":"\\ud800","uid":"text-{app_id}"}}'),
    }
    for what, (path, body) in attempts.items():
        response = http.post(path, content=body)
        assert response.status_code == 400, f"{what}: {response.status_code} {response.text[:200]}"
        assert response.json()["code"] == "invalid_json" and "surrogate" in response.json()["detail"]
    # A surrogate spelled as UTF-8 bytes (CESU-8) is no UTF-8 at all.
    raw = http.post(f"/app/{app_id}/msg", content=b'{"eventType":"t","payload":{"a":"\xed\xa0\x80"}}')
    assert _refused(raw)["detail"] == "The body is not valid JSON."
    assert http.get(f"/app/text-{app_id}").status_code == 404
    _nothing_stored(http, app_id, event_type)


def test_a_surrogate_pair_is_text_and_is_accepted(http: httpx.Client, app_id: str) -> None:
    created = http.post(
        f"/app/{app_id}/msg", content='{"eventType":"t","payload":{"emoji":"\\ud83d\\ude00"}}'
    )
    assert created.status_code == 202
    assert http.get(f"/app/{app_id}/msg/{created.json()['id']}").json()["payload"] == {"emoji": "\U0001f600"}


# --- declared size ---------------------------------------------------------------------------------


class CountedRequest(func.HttpRequest):
    """The request the host hands Herald, counting how often Herald reads its body."""

    reads = 0

    def get_body(self) -> bytes:
        self.reads += 1
        return super().get_body()


async def test_a_body_declared_over_the_limit_is_413_before_it_is_read(
    in_process: Services, mint: Minter
) -> None:
    body = json.dumps({"name": "x" * (2 * LIMIT)}).encode()
    request = CountedRequest(
        method="POST",
        url="http://localhost/api/v1/app",
        headers={
            "content-type": "application/json",
            "content-length": str(len(body)),
            "authorization": f"Bearer {mint('t-declared')}",
            "idempotency-key": "declared",
        },
        body=body,
    )
    response = await serve(request, applications.create_application, Scope.WRITE, route="v1/app")
    assert response.status_code == 413
    assert json.loads(response.get_body())["code"] == "payload_too_large"
    assert request.reads == 0


def test_the_host_refuses_a_body_over_its_own_limit_before_it_is_sent(
    herald_url: str, tenant_token: str
) -> None:
    # devhost keeps the Functions host's limit: it answers on the headers alone, and the client
    # never has to send the body.
    address = urlsplit(herald_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(
            (
                "POST /api/v1/app HTTP/1.1\r\n"
                f"Host: {address.netloc}\r\n"
                f"Authorization: Bearer {tenant_token}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {HOST_LIMIT + 1}\r\n\r\n"
            ).encode()
        )
        answer = connection.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
