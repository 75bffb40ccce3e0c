"""The SSRF guard: refused ranges, encoded forms, connect-time checks and redirects."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from shared.outbound import (
    RefusedTargetError,
    check_endpoint_url,
    guarded_request,
    guarded_session,
    parse_target,
)
from shared.settings import HeraldSettings

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
