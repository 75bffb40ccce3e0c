"""One webhook request against real loopback receivers, judged by the standardwebhooks package."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from standardwebhooks import Webhook
from svix.webhooks import Webhook as SvixWebhook

from shared.delivery.sender import WebhookRequest, send
from shared.outbound import guarded_session
from shared.settings import HeraldSettings
from shared.signing import generate_secret

SETTINGS = HeraldSettings(
    delivery_allowed_cidrs=["127.0.0.0/8"], delivery_allow_http=True, delivery_timeout_seconds=0.5
)


@dataclass
class Receiver:
    url: str
    seen: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    holder: list[Receiver] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        holder[0].seen.append((dict(request.headers), body))
        mode = request.match_info["mode"]
        if mode == "ok":
            return web.json_response({"thanks": True})
        if mode == "fail":
            return web.Response(status=500, text="boom" * 2000)
        if mode == "slow":
            await asyncio.sleep(2)
            return web.Response(text="late")
        if mode == "gone":
            return web.Response(status=410)
        if mode == "busy":
            return web.Response(status=429, headers={"Retry-After": "120"})
        if mode == "odd-retry-after":
            # A digit to str.isdigit(), not to float(): SUPERSCRIPT TWO.
            return web.Response(status=503, headers={"Retry-After": "\u00b2"}, text="later")
        raise web.HTTPFound("http://169.254.169.254/")

    app = web.Application()
    app.router.add_post("/{mode}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    holder.append(Receiver(url=f"http://127.0.0.1:{port}"))
    yield holder[0]
    await runner.cleanup()


def _request(url: str, secrets: list[str], payload: dict[str, object] | None = None) -> WebhookRequest:
    body = json.dumps(payload or {"type": "invoice.paid", "n": 1}).encode()
    return WebhookRequest(
        msg_id="msg_test", url=url, body=body, secrets=secrets, headers={"X-Tenant": "acme"}
    )


async def test_a_signed_post_that_both_verifiers_accept(receiver: Receiver) -> None:
    secret = generate_secret()
    async with guarded_session(SETTINGS) as session:
        result = await send(session, _request(f"{receiver.url}/ok", [secret]), SETTINGS, svix_headers=True)
    assert result.success and result.status_code == 200 and result.response == '{"thanks": true}'
    ((headers, body),) = receiver.seen
    assert Webhook(secret).verify(body, headers) == {"type": "invoice.paid", "n": 1}
    assert headers["webhook-id"] == "msg_test" and headers["X-Tenant"] == "acme"
    assert headers["User-Agent"].startswith("Herald-Webhooks/")
    svix_only = {k: v for k, v in headers.items() if k.lower().startswith("svix-")}
    # Receivers migrating from Svix verify the svix-* copies with Svix's own library (raises if wrong).
    SvixWebhook(secret).verify(body, svix_only)


async def test_during_a_rotation_each_valid_key_verifies_alone(receiver: Receiver) -> None:
    new, old = generate_secret(), generate_secret()
    async with guarded_session(SETTINGS) as session:
        await send(session, _request(f"{receiver.url}/ok", [new, old]), SETTINGS)
    ((headers, body),) = receiver.seen
    assert len(headers["webhook-signature"].split(" ")) == 2
    for key in (new, old):
        Webhook(key).verify(body, headers)
    stranger = "whsec_" + base64.b64encode(b"x" * 24).decode()
    with pytest.raises(Exception, match="signature"):
        Webhook(stranger).verify(body, headers)


@pytest.mark.parametrize(
    ("mode", "status", "gone", "floor", "retry_after"),
    [("fail", 500, False, False, None), ("gone", 410, True, False, None), ("busy", 429, False, True, 120.0)],
)
async def test_failures_are_classified(
    receiver: Receiver, mode: str, status: int, gone: bool, floor: bool, retry_after: float | None
) -> None:
    async with guarded_session(SETTINGS) as session:
        result = await send(session, _request(f"{receiver.url}/{mode}", [generate_secret()]), SETTINGS)
    assert not result.success and result.status_code == status
    assert (result.gone, result.needs_floor, result.retry_after) == (
        gone,
        floor,
        retry_after,
    )
    assert len(result.response.encode()) <= 4096


async def test_a_timeout_is_a_failure_with_the_floor(receiver: Receiver) -> None:
    async with guarded_session(SETTINGS) as session:
        result = await send(session, _request(f"{receiver.url}/slow", [generate_secret()]), SETTINGS)
    assert (result.status_code, result.error, result.needs_floor) == (0, "timeout", True)
    assert 400 <= result.duration_ms < 1500


async def test_redirects_are_a_failure_and_never_followed(receiver: Receiver) -> None:
    async with guarded_session(SETTINGS) as session:
        result = await send(session, _request(f"{receiver.url}/redirect", [generate_secret()]), SETTINGS)
    assert result.status_code == 302 and not result.success
    assert len(receiver.seen) == 1


async def test_refused_and_unreachable_targets_are_failures_without_a_request() -> None:
    strict = HeraldSettings(delivery_allow_http=True)
    async with guarded_session(strict) as session:
        refused = await send(session, _request("http://127.0.0.1:9/x", [generate_secret()]), strict)
        assert refused.status_code == 0 and refused.error and "range" in refused.error
    async with guarded_session(SETTINGS) as session:
        closed = await send(session, _request("http://127.0.0.1:9/x", [generate_secret()]), SETTINGS)
        assert closed.status_code == 0 and closed.error


async def test_a_retry_after_that_is_not_a_number_is_ignored_not_a_crash(receiver: Receiver) -> None:
    async with guarded_session(SETTINGS) as session:
        result = await send(
            session, _request(f"{receiver.url}/odd-retry-after", [generate_secret()]), SETTINGS
        )
    assert (result.status_code, result.response, result.retry_after) == (503, "later", None)
    assert not result.success
