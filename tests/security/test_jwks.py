"""The issuer's keys (JWKS) over real loopback HTTPS: fetched only over https, kept through an outage.

A failed fetch leaves the keys held in service (up to a day after they were fetched) and puts the
next try off, longer after each failure; a request is refused with 503 only when no key is usable.
The issuer is an aiohttp server with a certificate of a throwaway CA (trustme); time is a clock the
tests move.
"""

from __future__ import annotations

import dataclasses
import json
import ssl
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import azure.functions as func
import pytest
import trustme
from aiohttp import web

from blueprints._http import Call, Reply, serve
from devhost.testing import free_port
from shared.auth import (
    JWKS_BACKOFF_SECONDS,
    JWKS_MAX_STALE_SECONDS,
    JWKS_TTL_SECONDS,
    MIN_REFRESH_SECONDS,
    RemoteJwks,
    TokenValidator,
)
from shared.errors import ServiceUnavailableError, UnauthorizedError
from shared.scopes import Scope
from shared.services.registry import Services
from shared.settings import HeraldSettings
from tests.support.receivers import serving
from tests.support.tokens import Minter


@dataclass
class Issuer:
    """The issuer's JWKS endpoint: `answer` is what it serves, `requests` how often it was asked."""

    url: str
    answer: str = "keys"
    requests: int = 0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def issuer(ca: trustme.CA, jwks: str) -> AsyncIterator[Issuer]:
    state = Issuer(url="")

    async def keys(request: web.Request) -> web.Response:
        state.requests += 1
        if state.answer == "down":
            return web.Response(status=503, text="maintenance")
        if state.answer == "empty":
            return web.json_response({"keys": []})
        if state.answer == "not json":
            return web.Response(text="<html>sign in</html>", content_type="text/html")
        return web.Response(text=jwks, content_type="application/json")

    app = web.Application()
    app.router.add_get("/keys", keys)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    async with serving(app, ssl_context=server_tls) as port:
        state.url = f"https://127.0.0.1:{port}/keys"
        yield state


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _validator(settings: HeraldSettings, issuer: Issuer, ca: trustme.CA, clock: Clock) -> TokenValidator:
    trust = ssl.create_default_context()
    ca.configure_trust(trust)
    return TokenValidator(settings, RemoteJwks(issuer.url, ssl_context=trust, clock=clock))


def _bearer(mint: Minter, **claims: object) -> str:
    # A token of its own each time: a token already validated is answered without the keys.
    return f"Bearer {mint('t-jwks', jti=uuid.uuid4().hex, **claims)}"


async def test_the_keys_held_serve_while_the_issuer_is_down_and_retries_back_off(
    settings: HeraldSettings, issuer: Issuer, ca: trustme.CA, clock: Clock, mint: Minter
) -> None:
    validator = _validator(settings, issuer, ca, clock)
    assert (await validator.authenticate(_bearer(mint))).tenant_id == "t-jwks"
    assert issuer.requests == 1

    issuer.answer = "down"
    clock.now += JWKS_TTL_SECONDS  # the keys are due for a refresh, which fails
    assert (await validator.authenticate(_bearer(mint))).tenant_id == "t-jwks"
    assert issuer.requests == 2
    # Within the backoff no request knocks on the issuer; then each wait doubles.
    assert (await validator.authenticate(_bearer(mint))).tenant_id == "t-jwks"
    assert issuer.requests == 2
    clock.now += JWKS_BACKOFF_SECONDS
    await validator.authenticate(_bearer(mint))
    assert issuer.requests == 3
    clock.now += JWKS_BACKOFF_SECONDS
    await validator.authenticate(_bearer(mint))
    assert issuer.requests == 3
    clock.now += JWKS_BACKOFF_SECONDS
    await validator.authenticate(_bearer(mint))
    assert issuer.requests == 4

    # A day after their fetch the keys held are no longer trusted: no key, so 503.
    clock.now += JWKS_MAX_STALE_SECONDS
    with pytest.raises(ServiceUnavailableError) as refused:
        await validator.authenticate(_bearer(mint))
    assert refused.value.status == 503 and refused.value.retry_after >= 1

    issuer.answer = "keys"
    clock.now += refused.value.retry_after
    assert (await validator.authenticate(_bearer(mint))).tenant_id == "t-jwks"


@pytest.mark.parametrize("answer", ["empty", "not json"])
async def test_an_answer_without_usable_keys_does_not_replace_the_keys_held(
    answer: str, settings: HeraldSettings, issuer: Issuer, ca: trustme.CA, clock: Clock, mint: Minter
) -> None:
    validator = _validator(settings, issuer, ca, clock)
    await validator.authenticate(_bearer(mint))
    issuer.answer = answer
    clock.now += JWKS_TTL_SECONDS
    assert (await validator.authenticate(_bearer(mint))).tenant_id == "t-jwks"
    assert issuer.requests == 2


async def test_an_unknown_kid_while_the_issuer_is_down_is_401(
    settings: HeraldSettings, issuer: Issuer, ca: trustme.CA, clock: Clock, mint: Minter
) -> None:
    validator = _validator(settings, issuer, ca, clock)
    await validator.authenticate(_bearer(mint))
    issuer.answer = "down"
    clock.now += MIN_REFRESH_SECONDS
    with pytest.raises(UnauthorizedError, match="unknown key"):
        await validator.authenticate(_bearer(mint, headers={"kid": "rotated-in"}))
    assert issuer.requests == 2


async def test_without_any_key_it_is_503_and_the_issuer_is_not_asked_again_at_once(
    settings: HeraldSettings, issuer: Issuer, ca: trustme.CA, clock: Clock, mint: Minter
) -> None:
    issuer.answer = "down"
    validator = _validator(settings, issuer, ca, clock)
    for _ in range(3):
        with pytest.raises(ServiceUnavailableError):
            await validator.authenticate(_bearer(mint))
    assert issuer.requests == 1


async def test_a_certificate_the_system_does_not_trust_is_a_failed_fetch(
    settings: HeraldSettings, issuer: Issuer, mint: Minter
) -> None:
    validator = TokenValidator(settings, RemoteJwks(issuer.url))
    with pytest.raises(ServiceUnavailableError):
        await validator.authenticate(_bearer(mint))
    assert issuer.requests == 0  # refused in the TLS handshake


async def test_the_api_answers_503_with_retry_after_when_no_key_can_be_had(
    monkeypatch: pytest.MonkeyPatch, services: Services, settings: HeraldSettings, mint: Minter
) -> None:
    from shared.services import registry

    nobody_listens = f"https://127.0.0.1:{free_port()}/keys"
    tokens = TokenValidator(settings, RemoteJwks(nobody_listens))
    monkeypatch.setattr(registry, "_services", dataclasses.replace(services, tokens=tokens))

    async def handler(call: Call) -> Reply:
        raise AssertionError("no caller can be authenticated")

    request = func.HttpRequest(
        method="GET", url="http://localhost/api/v1/app", headers={"authorization": _bearer(mint)}, body=b""
    )
    response = await serve(request, handler, Scope.READ, route="v1/app")
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert json.loads(response.get_body())["code"] == "service_unavailable"


@pytest.mark.parametrize(
    "url", ["http://login.example.com/keys", "ftp://login.example.com/keys", "https:///keys", "keys.json"]
)
def test_a_jwks_url_that_is_not_https_is_refused_when_the_settings_load(
    url: str, settings: HeraldSettings
) -> None:
    with pytest.raises(ValueError, match="https"):
        HeraldSettings(**settings.model_dump() | {"auth_jwks_url": url})


def test_an_https_jwks_url_loads_and_an_empty_one_is_unset(settings: HeraldSettings) -> None:
    url = "https://login.microsoftonline.com/contoso/discovery/v2.0/keys"
    assert HeraldSettings(**settings.model_dump() | {"auth_jwks_url": url}).auth_jwks_url == url
    assert HeraldSettings(**settings.model_dump() | {"auth_jwks_url": ""}).auth_jwks_url is None
