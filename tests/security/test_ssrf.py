"""The SSRF guard: refused ranges, encoded forms, connect-time checks and redirects.

Every refused spelling is tried against a real loopback receiver where a request could go out:
on save (the URL check), on connect (the connector's resolver and socket factory, also without
the URL check in front), and through Herald's delivery and operational-webhook paths.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
import pytest
import yarl
from aiohttp import web

from shared.errors import ValidationFailedError
from shared.models import ApplicationIn, EndpointIn, MessageIn, MessageStatus, OperationalWebhookEndpointIn
from shared.outbound import (
    RefusedTargetError,
    check_endpoint_url,
    guarded_request,
    guarded_session,
    parse_target,
)
from shared.services import operational
from shared.services.registry import Services
from shared.settings import HeraldSettings
from shared.store.base import ENDPOINTS, MESSAGES, DocumentStore
from shared.store.schema import ATTEMPT_TYPE, destination_id, etag
from tests.conftest import Minter, serving_herald
from tests.delivery.receivers import Receiver, running_receiver

STRICT = HeraldSettings(delivery_allowed_cidrs=[], delivery_allow_http=True)
LOOPBACK_ALLOWED = HeraldSettings(delivery_allowed_cidrs=["127.0.0.0/8", "::1/128"], delivery_allow_http=True)

REFUSED = [
    "http://127.0.0.1/",
    "http://127.8.9.10/",
    "http://0.0.0.0/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://172.31.255.255/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://168.63.129.16/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://[::1]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[ff02::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://0x7f.0.0.1/",
    "http://0x7f000001/",
    "http://127.1/",
    "http://017700000001/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_every_refused_range_and_spelling_is_refused_without_a_lookup(url: str) -> None:
    with pytest.raises(RefusedTargetError):
        parse_target(url, STRICT)


@pytest.mark.parametrize(
    "url", ["https://93.184.216.34/hook", "https://[2606:4700::1111]/", "https://example.com/h"]
)
def test_public_addresses_pass(url: str) -> None:
    parse_target(url, STRICT)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://example.com",
        "https://user:pw@example.com/",
        "https:///x",
    ],
)
def test_only_http_and_https_urls_without_credentials(url: str) -> None:
    with pytest.raises(RefusedTargetError):
        parse_target(url, STRICT)


@pytest.mark.parametrize("url", ["https://a..b/", "https://\x9f\x96\x13/", "https://" + "a" * 64 + ".com/"])
def test_a_host_no_resolver_could_look_up_is_refused_not_a_crash(url: str) -> None:
    with pytest.raises(RefusedTargetError):
        parse_target(url, STRICT)


def test_plain_http_needs_the_setting() -> None:
    with pytest.raises(RefusedTargetError):
        parse_target("http://example.com/", HeraldSettings(delivery_allow_http=False))
    parse_target("https://example.com/", HeraldSettings(delivery_allow_http=False))


async def test_only_default_or_allowed_ports() -> None:
    with pytest.raises(RefusedTargetError):
        parse_target("https://93.184.216.34:22/", STRICT)
    with pytest.raises(RefusedTargetError):
        await check_endpoint_url("https://example.invalid:22/", STRICT)
    await check_endpoint_url("https://example.invalid:8443/", HeraldSettings(delivery_allowed_ports=[8443]))


async def test_names_are_resolved_and_every_address_checked() -> None:
    with pytest.raises(RefusedTargetError):
        await check_endpoint_url("http://localhost/hook", STRICT)
    await check_endpoint_url("http://localhost:8080/hook", LOOPBACK_ALLOWED)
    # A name that does not resolve (yet) is accepted on save and checked again on connect.
    await check_endpoint_url("https://does-not-resolve.invalid/hook", STRICT)


@pytest.fixture
async def receiver() -> AsyncIterator[str]:
    """A loopback HTTP server: /ok answers 200, /redirect points at the metadata service."""

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/redirect", redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"127.0.0.1:{port}"
    await runner.cleanup()


async def test_connect_time_check_refuses_a_name_that_resolves_to_loopback(receiver: str) -> None:
    port = receiver.split(":")[1]
    async with guarded_session(STRICT) as session:
        with pytest.raises(aiohttp.ClientConnectorError):
            await guarded_request(session, "GET", f"http://localhost:{port}/ok", STRICT)
    async with guarded_session(LOOPBACK_ALLOWED) as session:
        response = await guarded_request(session, "GET", f"http://localhost:{port}/ok", LOOPBACK_ALLOWED)
        assert response.status == 200


async def test_redirects_are_never_followed(receiver: str) -> None:
    async with guarded_session(LOOPBACK_ALLOWED) as session:
        response = await guarded_request(session, "GET", f"http://{receiver}/redirect", LOOPBACK_ALLOWED)
        assert response.status == 302
        assert response.headers["location"].startswith("http://169.254.169.254")


async def test_the_connection_goes_to_the_checked_address_without_a_second_lookup(
    receiver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the first answer is checked; a later, different answer must never be used."""
    port = int(receiver.split(":")[1])
    answers = iter(["127.0.0.1", "169.254.169.254"])
    real = asyncio.get_running_loop().getaddrinfo
    lookups: list[str] = []

    async def rebinding(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        if host == "rebind.test":
            address = next(answers)
            lookups.append(address)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return await real(host, *args, **kwargs)

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", rebinding)
    async with guarded_session(LOOPBACK_ALLOWED) as session:
        response = await guarded_request(session, "GET", f"http://rebind.test:{port}/ok", LOOPBACK_ALLOWED)
        assert response.status == 200
    assert lookups == ["127.0.0.1"]


# Hosts that UTS46 (yarl's encoding, under aiohttp) maps to IPv4 literals of refused ranges:
# Python's IDNA 2003 codec, which the guard used to read hosts with, leaves them names.
UNICODE_SPELLINGS = [
    "\U0001fbf1\U0001fbf2\U0001fbf7.0.0.1",  # segmented digits U+1FBF0-U+1FBF9: 127.0.0.1
    "\U0001fbf1\U0001fbf0.\U0001fbf0.\U0001fbf0.\U0001fbf1",  # 10.0.0.1
    "\U0001fbf1\U0001fbf6\U0001fbf9.\U0001fbf2\U0001fbf5\U0001fbf4.169.254",  # mixed with ASCII digits
    "\uff11\uff16\uff19.\uff12\uff15\uff14.\uff11\uff16\uff19.\uff12\uff15\uff14",  # fullwidth digits
    "\uff11\uff17\uff12\u3002\uff11\uff16\u3002\uff10\u3002\uff11",  # and ideographic full stops U+3002
    "127\uff0e0\uff0e0\uff0e1",  # fullwidth full stops U+FF0E
    "192\uff61168\uff610\uff611",  # halfwidth ideographic full stops U+FF61
    "\U0001d7cf\U0001d7ce.\U0001d7ce.\U0001d7ce.\U0001d7cf",  # mathematical bold digits: 10.0.0.1
    "1\U0001fbf2\uff17\u30020.0\uff0e1",  # every kind in one host: 127.0.0.1
    "127.0.0.\u2488",  # U+2488 DIGIT ONE FULL STOP maps to "1.": 127.0.0.1 with a trailing dot
    "\uff10\uff58\uff17\uff46.1",  # fullwidth hex spelling: 0x7f.1
]
# IPv6 literals that carry an IPv4 address of a refused range.
EMBEDDED_IPV4 = [
    "[::ffff:7f00:1]",  # IPv4-mapped, hex spelling
    "[::ffff:10.0.0.1]",
    "[::127.0.0.1]",  # IPv4-compatible
    "[::a9fe:a9fe]",
    "[64:ff9b::7f00:1]",  # NAT64 well-known prefix
    "[64:ff9b::169.254.169.254]",
    "[64:ff9b:1::a00:1]",  # local-use NAT64
    "[64:ff9b:1:ff::c0a8:1]",
    "[2002:7f00:1::1]",  # 6to4
    "[2002:a9fe:a9fe::1]",
    "[2001:0:4136:e378:8000:63bf:80ff:fffe]",  # Teredo, client 127.0.0.1 (obfuscated)
    "[2001:0:a9fe:a9fe::5db8:d822]",  # Teredo, server 169.254.169.254
    "[fe80::1%25eth0]",  # a zone: an interface of Herald's own host
]
# Numeric IPv4 spellings the C resolver accepts: decimal, octal, hex, short forms, a trailing dot.
NUMERIC_SPELLINGS = [
    "2852039166",
    "0251.0376.0251.0376",
    "0xa9.0xfe.0xa9.0xfe",
    "0xa9fea9fe",
    "0xA9.254.43518",
    "10.1",
    "012.0.0.1",
    "127.0.0.1.",
]
EVERY_SPELLING = UNICODE_SPELLINGS + EMBEDDED_IPV4 + NUMERIC_SPELLINGS


@pytest.mark.parametrize("host", EVERY_SPELLING)
def test_every_spelling_the_client_reads_as_a_refused_address_is_refused(host: str) -> None:
    with pytest.raises(RefusedTargetError):
        parse_target(f"https://{host}/hook", STRICT)


@pytest.mark.parametrize(
    "url",
    [
        "https://[::ffff:93.184.216.34]/",  # mapped, public
        "https://[64:ff9b::5db8:d822]/",  # NAT64 of a public address
    ],
)
def test_an_ipv6_spelling_of_a_public_ipv4_address_passes(url: str) -> None:
    parse_target(url, STRICT)


async def test_the_stored_url_is_the_url_the_client_sends() -> None:
    stored = await check_endpoint_url("https://B\u00fccher.invalid/h%C3%A4?x=1", STRICT)
    assert stored == "https://xn--bcher-kva.invalid/h%C3%A4?x=1"
    # aiohttp reads the stored form as itself: what was checked is what is connected to.
    assert yarl.URL(stored).raw_host == "xn--bcher-kva.invalid" and str(yarl.URL(stored)) == stored
    fullwidth = "https://\uff28\uff2f\uff2f\uff2b\uff33.invalid/x"
    assert await check_endpoint_url(fullwidth, STRICT) == "https://hooks.invalid/x"


async def test_a_refusal_on_save_does_not_say_what_a_name_resolves_to(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = asyncio.get_running_loop().getaddrinfo

    async def internal(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        if host == "billing.internal.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.20.30.40", 443))]
        return await real(host, *args, **kwargs)

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", internal)
    for url, answer in [
        ("https://billing.internal.test/hook", "10.20.30.40"),
        ("https://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/hook", "127.0.0.1"),  # fullwidth
    ]:
        with pytest.raises(RefusedTargetError) as refused:
            await check_endpoint_url(url, STRICT)
        assert answer not in str(refused.value) and "::1" not in str(refused.value)


@dataclass
class Target:
    """A loopback receiver that counts what reaches it."""

    port: int
    hits: list[str] = field(default_factory=list)


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    holder: list[Target] = []

    async def anything(request: web.Request) -> web.Response:
        holder[0].hits.append(request.path)
        return web.Response(text="internal answer")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    holder.append(Target(port=site._server.sockets[0].getsockname()[1]))  # type: ignore[union-attr]
    yield holder[0]
    await runner.cleanup()


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", *UNICODE_SPELLINGS[:1], UNICODE_SPELLINGS[8]],
)
async def test_the_connection_layer_refuses_a_literal_even_without_the_url_check(
    target: Target, host: str
) -> None:
    """aiohttp never resolves an IP literal: the socket factory is what stops it."""
    port_allowed = HeraldSettings(
        delivery_allowed_cidrs=[], delivery_allow_http=True, delivery_allowed_ports=[target.port]
    )
    async with guarded_session(port_allowed) as session:
        # session.request, not guarded_request: no URL check in front of the connector.
        with pytest.raises(aiohttp.ClientConnectorError) as refused:
            await session.get(f"http://{host}:{target.port}/x", allow_redirects=False)
        assert isinstance(refused.value.os_error, RefusedTargetError)
    assert target.hits == []


async def test_the_same_spelling_connects_where_loopback_is_allowed(target: Target) -> None:
    """The control: the refusals above are the policy, not a connection that could never work."""
    async with guarded_session(LOOPBACK_ALLOWED) as session:
        response = await session.get(f"http://{UNICODE_SPELLINGS[0]}:{target.port}/x", allow_redirects=False)
        assert response.status == 200
    assert target.hits == ["/x"]


@pytest.fixture(scope="module")
def receiver_thread() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
async def strict_services(
    store: DocumentStore, settings: HeraldSettings, receiver_thread: Receiver
) -> AsyncIterator[Services]:
    """Herald's services as in production (no loopback exemption), the receiver's port allowed."""
    port = int(receiver_thread.base_url.rsplit(":", 1)[1])
    strict = settings.model_copy(
        update={"delivery_allowed_cidrs": [], "delivery_allow_http": True, "delivery_allowed_ports": [port]}
    )
    services = Services.build(store, strict)
    yield services
    await services.close()


def _inward(monkeypatch: pytest.MonkeyPatch, name: str, address: str) -> None:
    """`name` resolves to `address` from now on (before, it did not resolve at all)."""
    real = asyncio.get_running_loop().getaddrinfo

    async def resolving(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host == name:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))]
        return await real(host, port, *args, **kwargs)

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", resolving)


async def test_a_name_saved_unresolved_that_later_points_inward_is_refused_on_connect(
    strict_services: Services, receiver_thread: Receiver, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    services, port = strict_services, receiver_thread.base_url.rsplit(":", 1)[1]
    app, _ = await services.applications.create(tenant, ApplicationIn(name="ssrf"))
    name = f"later-{tenant}.invalid"
    later = await services.endpoints.create(
        tenant, app["id"], EndpointIn(url=f"http://{name}:{port}/later-inward")
    )
    # An endpoint stored before the guard read hosts as the client does (Unicode for 127.0.0.1).
    legacy = await services.endpoints.create(
        tenant, app["id"], EndpointIn(url=f"http://{name}:{port}/legacy")
    )
    legacy = await services.store.replace(
        ENDPOINTS, {**legacy, "url": f"http://{UNICODE_SPELLINGS[0]}:{port}/legacy"}, etag=etag(legacy)
    )
    _inward(monkeypatch, name, "127.0.0.1")
    message = await services.messages.create(tenant, app["id"], MessageIn(event_type="a", payload={"n": 1}))

    first = await services.delivery.first_round(message, [later, legacy])

    assert receiver_thread.requests("later-inward") == [] and receiver_thread.requests("legacy") == []
    assert sorted(job.endpoint_id for job in first.jobs) == sorted([later["id"], legacy["id"]])
    pk = [tenant, app["id"]]
    for endpoint in (later, legacy):
        pair = await services.store.read(MESSAGES, pk, destination_id(message["id"], endpoint["id"]))
        assert pair is not None and pair["status"] == MessageStatus.PENDING
        (attempt,) = await services.store.query(
            MESSAGES,
            pk,
            where="c.type = @type AND c.endpointId = @ep",
            parameters=[("@type", ATTEMPT_TYPE), ("@ep", endpoint["id"])],
        )
        assert attempt["responseStatusCode"] == 0 and "range" in attempt["response"]
        assert "127.0.0.1" not in attempt["response"] and "internal answer" not in attempt["response"]


async def test_operational_webhooks_are_refused_on_connect_too(
    strict_services: Services, receiver_thread: Receiver, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    services, port = strict_services, receiver_thread.base_url.rsplit(":", 1)[1]
    name = f"ops-{tenant}.invalid"
    await services.operational_endpoints.create(
        tenant, OperationalWebhookEndpointIn(url=f"http://{name}:{port}/ops-inward")
    )
    with pytest.raises(ValidationFailedError) as refused:
        await services.operational_endpoints.create(
            tenant,
            OperationalWebhookEndpointIn(url=f"http://{UNICODE_SPELLINGS[0]}:{port}/ops-literal"),
        )
    assert refused.value.to_body()["detail"][0]["loc"] == ["body", "url"]
    _inward(monkeypatch, name, "127.0.0.1")
    monkeypatch.setattr(operational, "RETRY_DELAY_SECONDS", 0)

    await services.operational.emit(tenant, "endpoint.disabled", {"appId": "app_x", "endpointId": "ep_x"})

    assert receiver_thread.requests("ops-inward") == [] and receiver_thread.requests("ops-literal") == []


@pytest.fixture(scope="module")
def strict_herald(herald_env: dict[str, str], receiver_thread: Receiver) -> Iterator[str]:
    """Herald on devhost as in production (no loopback exemption), http and the receiver's port allowed."""
    port = receiver_thread.base_url.rsplit(":", 1)[1]
    env = {
        **herald_env,
        "HERALD_DELIVERY_ALLOWED_CIDRS": "",
        "HERALD_DELIVERY_ALLOW_HTTP": "true",
        "HERALD_DELIVERY_ALLOWED_PORTS": port,
    }
    with serving_herald(env) as url:
        yield url


def test_every_spelling_is_a_422_on_save_and_nothing_reaches_the_receiver(
    strict_herald: str, receiver_thread: Receiver, mint: Minter
) -> None:
    port = receiver_thread.base_url.rsplit(":", 1)[1]
    headers = {"authorization": f"Bearer {mint('t-ssrf-save')}"}
    with httpx.Client(base_url=f"{strict_herald}/api/v1", headers=headers) as client:
        app = client.post("/app", json={"name": "ssrf"}).json()["id"]
        # A name that does not resolve now is accepted (checked again on every connect).
        ok_url = f"http://unresolved-yet.invalid:{port}/kept"
        endpoint = client.post(f"/app/{app}/endpoint", json={"url": ok_url}).json()["id"]
        # Names that resolve inward now: refused without saying to what.
        inward = ["localhost", "\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54"]
        # Every spelling on create; one of each class on the other routes that save a URL.
        each_class = {UNICODE_SPELLINGS[0], EMBEDDED_IPV4[4], NUMERIC_SPELLINGS[0], inward[1]}
        for host in [*EVERY_SPELLING, *inward]:
            url = f"http://{host}:{port}/reached"
            answers = [client.post(f"/app/{app}/endpoint", json={"url": url})]
            if host in each_class:
                answers += [
                    client.patch(f"/app/{app}/endpoint/{endpoint}", json={"url": url}),
                    client.put(f"/app/{app}/endpoint/{endpoint}", json={"url": url}),
                    client.post("/operational-webhook/endpoint", json={"url": url}),
                ]
            for answer in answers:
                assert answer.status_code == 422, (host, answer.text)
                assert answer.json()["detail"][0]["loc"] == ["body", "url"]
                assert "127.0.0.1" not in answer.text and "::1" not in answer.text
        assert [e["url"] for e in client.get(f"/app/{app}/endpoint").json()["data"]] == [ok_url]
        assert client.get("/operational-webhook/endpoint").json()["data"] == []
    assert receiver_thread.requests("reached") == []
