"""Signing secrets and custom header values: who may read them, and what is ever stored in plaintext.

A signing secret lets its holder forge webhooks, so reading one takes `herald.write`, as rotating
does; header values are withheld from read-only tokens. A rotation's answer carries the new secret:
the idempotency record that replays it holds it sealed, never in plaintext.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator

import httpx
import pytest
from azure.cosmos import CosmosClient

from tests.support.settings import EMULATOR_KEY
from tests.support.tokens import Minter

# The local Cosmos server's certificate is self-signed.
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


def _client(herald_url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=f"{herald_url}/api/v1", headers={"authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def tenant_id() -> str:
    return f"t-secrets-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def writer(herald_url: str, mint: Minter, tenant_id: str) -> Iterator[httpx.Client]:
    with _client(herald_url, mint(tenant_id, "herald.read herald.write")) as client:
        yield client


@pytest.fixture(scope="module")
def reader(herald_url: str, mint: Minter, tenant_id: str) -> Iterator[httpx.Client]:
    with _client(herald_url, mint(tenant_id, "herald.read")) as client:
        yield client


@pytest.fixture(scope="module")
def endpoint(writer: httpx.Client) -> str:
    app = writer.post("/app", json={"name": "secrets"}).json()["id"]
    created = writer.post(
        f"/app/{app}/endpoint",
        json={
            "url": "https://receiver.example.com/hook",
            "headers": {
                "X-Tenant-Route": "blue",
                "Authorization": "Bearer receiver-credential",
                "WWW-Authenticate": "Basic realm=receiver",
                "X-Api-Key": "receiver-api-key",
            },
        },
    )
    assert created.status_code == 201, created.text
    return f"/app/{app}/endpoint/{created.json()['id']}"


def test_reading_a_signing_secret_needs_herald_write(
    endpoint: str, reader: httpx.Client, writer: httpx.Client
) -> None:
    denied = reader.get(f"{endpoint}/secret")
    assert denied.status_code == 403, denied.text
    assert 'error="insufficient_scope", scope="herald.write"' in denied.headers["www-authenticate"]
    assert "whsec_" not in denied.text
    assert reader.post(f"{endpoint}/secret/rotate", json={}).status_code == 403
    assert writer.get(f"{endpoint}/secret").json()["key"].startswith("whsec_")


def test_header_values_are_withheld_as_svix_does_and_all_of_them_from_read_only_tokens(
    endpoint: str, reader: httpx.Client, writer: httpx.Client
) -> None:
    full = writer.get(f"{endpoint}/headers")
    assert full.status_code == 200
    assert full.json() == {
        "headers": {"X-Tenant-Route": "blue"},
        "sensitive": ["Authorization", "WWW-Authenticate", "X-Api-Key"],
    }
    names_only = reader.get(f"{endpoint}/headers")
    assert names_only.status_code == 200
    assert names_only.json() == {
        "headers": {},
        "sensitive": ["Authorization", "WWW-Authenticate", "X-Api-Key", "X-Tenant-Route"],
    }
    for value in ("blue", "receiver-credential", "realm=receiver", "receiver-api-key"):
        assert value not in names_only.text


def _idempotency_records(herald_env: dict[str, str], tenant_id: str) -> list[dict[str, object]]:
    """The tenant's idempotency records as the Cosmos server holds them, read without Herald."""
    client = CosmosClient(herald_env["HERALD_COSMOS_ENDPOINT"], EMULATOR_KEY, connection_verify=False)
    container = client.get_database_client(herald_env["HERALD_COSMOS_DATABASE"]).get_container_client(
        "idempotency"
    )
    query = "SELECT * FROM c WHERE c.tenantId = @tenant"
    parameters: list[dict[str, object]] = [{"name": "@tenant", "value": tenant_id}]
    return list(container.query_items(query, parameters=parameters, enable_cross_partition_query=True))


@pytest.mark.parametrize("chosen", [False, True], ids=["generated key", "caller's key"])
def test_a_rotation_replays_its_secret_without_storing_it_in_plaintext(
    chosen: bool, endpoint: str, writer: httpx.Client, herald_env: dict[str, str], tenant_id: str
) -> None:
    body = {"key": "whsec_" + base64.b64encode(os.urandom(32)).decode()} if chosen else {}
    headers = {"idempotency-key": f"rotate-{uuid.uuid4().hex}"}
    first = writer.post(f"{endpoint}/secret/rotate", json=body, headers=headers)
    assert first.status_code == 200, first.text
    secret = first.json()["key"]
    assert secret.startswith("whsec_") and (not chosen or secret == body["key"])

    stored = json.dumps(_idempotency_records(herald_env, tenant_id))
    assert '"state": "done"' in stored
    assert secret not in stored
    assert secret.removeprefix("whsec_") not in stored

    replay = writer.post(f"{endpoint}/secret/rotate", json=body, headers=headers)
    assert (replay.status_code, replay.json()) == (200, {"key": secret})
    # The replay rotated nothing: the key it answers is still the current one.
    assert writer.get(f"{endpoint}/secret").json()["key"] == secret
