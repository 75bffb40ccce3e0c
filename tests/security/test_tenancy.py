"""Tenant isolation: tenant B can neither see nor touch tenant A's resources, and gets 404 (not 403).

And which tenant a caller is: the calling application (`azp`, or `appid` of v1 tokens), so callers
of one Entra directory do not share one; a claim every caller shares is refused at start unless
single tenancy is declared; and no caller can name a tenant Herald keeps for itself.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest

from shared.auth import TENANT_ID, StaticJwks, TokenValidator
from shared.durable import instance_id
from shared.scopes import Scope
from shared.services.dead_letters import UNATTRIBUTED_TENANT
from shared.settings import CONSTANT_CLAIMS, HeraldSettings, get_settings
from shared.store.schema import SWEEP_CURSOR_KEY
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


# --- which tenant a caller is --------------------------------------------------------------------


def test_callers_of_one_directory_get_tenants_of_their_own(herald_url: str, mint: Minter) -> None:
    # Entra gives every token of a directory the same `tid`; the calling application (`azp`)
    # differs, and it is the tenant.
    suffix = uuid.uuid4().hex[:8]
    billing = {"authorization": f"Bearer {mint(f'billing-{suffix}', tid='one-directory')}"}
    crm = {"authorization": f"Bearer {mint(f'crm-{suffix}', tid='one-directory')}"}
    app = httpx.post(f"{herald_url}/api/v1/app", json={"name": "billing's"}, headers=billing).json()["id"]
    assert httpx.get(f"{herald_url}/api/v1/app/{app}", headers=crm).status_code == 404
    assert app not in [a["id"] for a in httpx.get(f"{herald_url}/api/v1/app", headers=crm).json()["data"]]
    assert httpx.get(f"{herald_url}/api/v1/app/{app}", headers=billing).status_code == 200


@pytest.mark.parametrize("claim", sorted(CONSTANT_CLAIMS))
def test_a_tenant_claim_every_caller_shares_is_refused_unless_single_tenant_is_declared(
    claim: str, settings: HeraldSettings
) -> None:
    fields = settings.model_dump() | {"auth_tenant_claim": claim}
    with pytest.raises(ValueError, match="HERALD_AUTH_SINGLE_TENANT=true"):
        HeraldSettings(**fields)
    assert HeraldSettings(**fields | {"auth_single_tenant": True}).auth_tenant_claim == claim


@pytest.fixture
def fresh_settings(monkeypatch: pytest.MonkeyPatch, herald_env: dict[str, str]) -> Iterator[None]:
    """The process reads its settings anew, from this test's environment."""
    from shared.services import registry

    for name, value in herald_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(registry, "_services", None)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def test_the_api_refuses_to_serve_on_a_one_tenant_configuration(
    fresh_settings: None, monkeypatch: pytest.MonkeyPatch, mint: Minter, herald_env: dict[str, str]
) -> None:
    import azure.functions as func

    from blueprints._http import Call, Reply, serve

    async def handler(call: Call) -> Reply:
        raise AssertionError("a misconfigured Herald must not serve")

    monkeypatch.setenv("HERALD_AUTH_TENANT_CLAIM", "tid")
    request = func.HttpRequest(
        method="GET",
        url="http://localhost/api/v1/app",
        headers={"authorization": f"Bearer {mint('t-any')}"},
        body=b"",
    )
    response = await serve(request, handler, Scope.READ, route="v1/app")
    body = json.loads(response.get_body())
    assert (response.status_code, body["code"]) == (500, "configuration_error")
    assert "HERALD_AUTH_TENANT_CLAIM=tid" in body["detail"]
    assert "HERALD_AUTH_SINGLE_TENANT" in body["detail"]
    # The settings hold keys; the error names settings, never their values.
    for secret in (herald_env["HERALD_COSMOS_KEY"], herald_env["HERALD_LOCAL_KEK"]):
        assert secret not in body["detail"]

    monkeypatch.setenv("HERALD_AUTH_SINGLE_TENANT", "true")
    get_settings.cache_clear()
    assert get_settings().auth_tenant_claim == "tid"


async def test_a_declared_single_tenant_puts_every_caller_of_the_directory_in_it(
    settings: HeraldSettings, jwks: str, mint: Minter
) -> None:
    single = settings.model_copy(update={"auth_tenant_claim": "tid", "auth_single_tenant": True})
    validator = TokenValidator(single, StaticJwks(jwks))
    first = await validator.authenticate(f"Bearer {mint('billing', tid='one-directory')}")
    second = await validator.authenticate(f"Bearer {mint('crm', tid='one-directory')}")
    assert first.tenant_id == second.tenant_id == "one-directory"


def test_herald_s_own_tenant_ids_can_never_be_a_caller_s() -> None:
    for internal in (UNATTRIBUTED_TENANT, SWEEP_CURSOR_KEY[0]):
        assert not TENANT_ID.fullmatch(internal)


@pytest.mark.parametrize(
    "tenant", ["a", "7", "0b9e4c7a-31d2-4a5e-9f4b-1c2d3e4f5a6b", "Acme.Corp_eu:prod-1", "z" * 128]
)
def test_every_valid_tenant_id_passes_unchanged_into_durable_instance_ids(tenant: str) -> None:
    assert TENANT_ID.fullmatch(tenant)
    assert instance_id("dlv", tenant, "msg_1") == f"dlv~{tenant}~msg_1"
