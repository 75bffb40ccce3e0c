"""Applications, endpoints and event types against the real Cosmos server."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from shared.errors import ConflictError, NotFoundError, PreconditionFailedError
from shared.models import ApplicationIn, ApplicationPatch, EndpointIn, EventTypeIn
from shared.secretbox import SecretKeyError
from shared.services.registry import Services
from shared.store.base import APPLICATIONS, ENDPOINTS, EtagMismatchError
from shared.store.cosmos import CosmosStore


async def test_uid_is_unique_per_tenant_even_under_concurrent_creates(
    services: Services, tenant: str
) -> None:
    data = ApplicationIn(name="A", uid="cust-1")
    results = await asyncio.gather(
        *(services.applications.create(tenant, data) for _ in range(6)), return_exceptions=True
    )
    assert sum(1 for r in results if isinstance(r, tuple)) == 1
    assert all(isinstance(r, tuple | ConflictError) for r in results)
    # Another tenant may use the same uid.
    other, _ = await services.applications.create(f"{tenant}-b", data)
    assert other["uid"] == "cust-1" and other["tenantId"] == f"{tenant}-b"


async def test_changing_a_uid_frees_the_old_one(services: Services, tenant: str) -> None:
    app, _ = await services.applications.create(tenant, ApplicationIn(name="A", uid="old"))
    await services.applications.patch(tenant, app["id"], ApplicationPatch(uid="new"))
    assert (await services.applications.get(tenant, "new"))["id"] == app["id"]
    with pytest.raises(NotFoundError):
        await services.applications.get(tenant, "old")
    other, created = await services.applications.create(tenant, ApplicationIn(name="B", uid="old"))
    assert created and other["id"] != app["id"]


async def test_stale_etag_loses(store: CosmosStore, services: Services, tenant: str) -> None:
    app, _ = await services.applications.create(tenant, ApplicationIn(name="A"))
    stale = await store.read(APPLICATIONS, [tenant], app["id"])
    assert stale is not None
    await services.applications.patch(tenant, app["id"], ApplicationPatch(name="B"))
    with pytest.raises(EtagMismatchError):
        await store.replace(APPLICATIONS, {**stale, "name": "C"}, etag=stale["_etag"])
    assert (await services.applications.get(tenant, app["id"]))["name"] == "B"


async def test_concurrent_patches_never_silently_overwrite(services: Services, tenant: str) -> None:
    app, _ = await services.applications.create(tenant, ApplicationIn(name="A"))
    results = await asyncio.gather(
        *(services.applications.patch(tenant, app["id"], ApplicationPatch(name=f"n{i}")) for i in range(5)),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, dict)]
    assert all(isinstance(r, dict | PreconditionFailedError) for r in results)
    assert (await services.applications.get(tenant, app["id"]))["name"] in {w["name"] for w in winners}


async def test_deleting_an_application_deletes_its_endpoints(services: Services, tenant: str) -> None:
    app, _ = await services.applications.create(tenant, ApplicationIn(name="A"))
    await services.endpoints.create(tenant, app["id"], EndpointIn(url="https://example.com/h"))
    await services.applications.delete(tenant, app["id"])
    assert await services.endpoints.list_all(tenant, app["id"]) == []


async def test_secret_rotation_keeps_the_old_key_for_the_grace_period(
    services: Services, tenant: str
) -> None:
    app, _ = await services.applications.create(tenant, ApplicationIn(name="A"))
    endpoint = await services.endpoints.create(tenant, app["id"], EndpointIn(url="https://example.com/h"))
    old = await services.endpoints.get_secret(tenant, app["id"], endpoint["id"])
    new = await services.endpoints.rotate_secret(tenant, app["id"], endpoint["id"], None, 3600)
    rotated = await services.endpoints.get(tenant, app["id"], endpoint["id"])
    assert await services.endpoints.signing_secrets(rotated) == [new, old]
    newest = await services.endpoints.rotate_secret(tenant, app["id"], endpoint["id"], None, 0)
    immediate = await services.endpoints.get(tenant, app["id"], endpoint["id"])
    assert await services.endpoints.signing_secrets(immediate) == [newest]


async def test_secrets_are_stored_encrypted_and_bound_to_their_endpoint(
    services: Services, store: CosmosStore, tenant: str
) -> None:
    app, _ = await services.applications.create(tenant, ApplicationIn(name="A"))
    secret = "whsec_" + base64.b64encode(b"z" * 32).decode()
    endpoint = await services.endpoints.create(
        tenant, app["id"], EndpointIn(url="https://e.com/h", secret=secret)
    )
    other = await services.endpoints.create(tenant, app["id"], EndpointIn(url="https://e.com/h2"))
    stored = await store.read(ENDPOINTS, [tenant, app["id"]], endpoint["id"])
    assert stored is not None and secret not in json.dumps(stored)
    assert await services.endpoints.get_secret(tenant, app["id"], endpoint["id"]) == secret
    # A ciphertext copied onto another endpoint does not open there.
    stolen = await store.read(ENDPOINTS, [tenant, app["id"]], other["id"])
    assert stolen is not None
    await store.replace(ENDPOINTS, {**stolen, "secrets": stored["secrets"]}, etag=stolen["_etag"])
    with pytest.raises(SecretKeyError):
        await services.endpoints.get_secret(tenant, app["id"], other["id"])


async def test_event_types_are_per_tenant(services: Services, tenant: str) -> None:
    await services.event_types.create(tenant, EventTypeIn(name="user.created", description="d"))
    with pytest.raises(ConflictError):
        await services.event_types.create(tenant, EventTypeIn(name="user.created", description="d"))
    await services.event_types.create(f"{tenant}-b", EventTypeIn(name="user.created", description="d"))
    with pytest.raises(NotFoundError):
        await services.event_types.get(f"{tenant}-c", "user.created")
