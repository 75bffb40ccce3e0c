"""What goes wrong for one endpoint stays with it: a failed attempt, never an aborted round.

Against the Cosmos server and real loopback receivers, in process: a first round to three
endpoints where one send raises (or one endpoint's stored headers may not be sent, or its secret
does not open) records that endpoint's outcome and delivers its siblings exactly once; the retry
activity records a failed attempt instead of failing its workflow.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from shared.models import ApplicationIn, EndpointIn, MessageIn, MessageStatus
from shared.services.delivery import Round
from shared.services.registry import Services
from shared.store.base import ENDPOINTS, MESSAGES, Doc
from shared.store.schema import ATTEMPT_TYPE, ApplicationDoc, EndpointDoc, MessageDoc, destination_id, etag
from tests.delivery.receivers import Receiver, running_receiver


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


async def _setup(
    services: Services, tenant: str, receiver: Receiver, *odd: str, odd_url: str | None = None
) -> tuple[ApplicationDoc, dict[str, EndpointDoc]]:
    """An application with endpoints `left`, the odd ones and `right`, each on its receiver path."""
    app, _ = await services.applications.create(tenant, ApplicationIn(name="failures"))
    endpoints = {}
    for path in ("left", *odd, "right"):
        url = odd_url if path in odd and odd_url else receiver.url(f"{tenant}-{path}")
        endpoints[path] = await services.endpoints.create(tenant, app["id"], EndpointIn(url=url))
    return app, endpoints


async def _attempts(services: Services, endpoint: EndpointDoc) -> list[Doc]:
    return await services.store.query(
        MESSAGES,
        [endpoint["tenantId"], endpoint["appId"]],
        where="c.type = @type AND c.endpointId = @ep",
        parameters=[("@type", ATTEMPT_TYPE), ("@ep", endpoint["id"])],
    )


async def _status(services: Services, message: MessageDoc, endpoint: EndpointDoc) -> MessageStatus:
    pair = await services.store.read(
        MESSAGES, [message["tenantId"], message["appId"]], destination_id(message["id"], endpoint["id"])
    )
    assert pair is not None
    return MessageStatus(pair["status"])


async def _first_round(
    services: Services, app: ApplicationDoc, endpoints: dict[str, EndpointDoc]
) -> tuple[MessageDoc, Round]:
    message = await services.messages.create(
        app["tenantId"], app["id"], MessageIn(event_type="a", payload={"n": 1})
    )
    first = await services.delivery.first_round(message, list(endpoints.values()))
    await services.delivery.after_first_round(message, first)
    return message, first


async def _siblings_delivered_once(
    services: Services,
    receiver: Receiver,
    message: MessageDoc,
    endpoints: dict[str, EndpointDoc],
    tenant: str,
) -> None:
    for path in ("left", "right"):
        assert len(receiver.requests(f"{tenant}-{path}")) == 1
        assert await _status(services, message, endpoints[path]) == MessageStatus.SUCCESS


async def test_a_send_that_raises_is_a_failed_attempt_and_its_siblings_are_delivered_once(
    services: Services, receiver: Receiver, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = receiver.base_url.rsplit(":", 1)[1]
    name = f"raises-{tenant}.invalid"
    real = asyncio.get_running_loop().getaddrinfo
    resolver_raises = False

    async def resolving(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host != name:
            return await real(host, port, *args, **kwargs)
        if resolver_raises:
            # What Python's resolver raises for a name it cannot encode: not an OSError.
            raise UnicodeError("label too long")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", int(port)))]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", resolving)
    app, endpoints = await _setup(
        services, tenant, receiver, "raising", odd_url=f"http://{name}:{port}/{tenant}-raising"
    )
    resolver_raises = True

    message, first = await _first_round(services, app, endpoints)

    await _siblings_delivered_once(services, receiver, message, endpoints, tenant)
    odd = endpoints["raising"]
    assert receiver.requests(f"{tenant}-raising") == []
    assert await _status(services, message, odd) == MessageStatus.PENDING
    (attempt,) = await _attempts(services, odd)
    assert attempt["responseStatusCode"] == 0 and attempt["response"] == "UnicodeError"
    (job,) = first.jobs
    assert (job.endpoint_id, job.attempts) == (odd["id"], 1)

    # The retry workflow's activity: a recorded failure and a next wait, not an exception.
    outcome = await services.delivery.attempt(job)

    assert outcome.status == MessageStatus.PENDING and outcome.attempted and outcome.retry_in is not None
    assert len(await _attempts(services, odd)) == 2
    await _siblings_delivered_once(services, receiver, message, endpoints, tenant)


async def test_headers_stored_before_the_rules_are_never_sent(
    services: Services, receiver: Receiver, tenant: str
) -> None:
    app, endpoints = await _setup(services, tenant, receiver, "smuggling", "crlf")
    # Written as an older Herald accepted them: a TAB after a framing header's name (read as
    # that header by lenient parsers), and a value that would end the header block early.
    for path, headers in (
        ("smuggling", {"Transfer-Encoding\t": "chunked"}),
        ("crlf", {"X-Note": "a\r\nTransfer-Encoding: chunked"}),
        ("left", {"X-Text": "caf\u00e9 \u20ac", "X-Tab": "a\tb"}),
    ):
        endpoint = endpoints[path]
        endpoints[path] = await services.store.replace(
            ENDPOINTS, {**endpoint, "headers": headers}, etag=etag(endpoint)
        )

    message, first = await _first_round(services, app, endpoints)

    await _siblings_delivered_once(services, receiver, message, endpoints, tenant)
    (left,) = receiver.requests(f"{tenant}-left")
    assert left.headers["X-Tab"] == "a\tb" and "Transfer-Encoding" not in left.headers
    for path in ("smuggling", "crlf"):
        assert receiver.requests(f"{tenant}-{path}") == []
        (attempt,) = await _attempts(services, endpoints[path])
        assert attempt["response"].startswith("custom header:") and "chunked" not in attempt["response"]
    assert sorted(job.endpoint_id for job in first.jobs) == sorted(
        endpoints[p]["id"] for p in ("smuggling", "crlf")
    )


async def test_an_attempt_that_cannot_be_prepared_is_put_off_without_aborting_the_round(
    services: Services, receiver: Receiver, tenant: str
) -> None:
    app, endpoints = await _setup(services, tenant, receiver, "sealed")
    odd = endpoints["sealed"]
    # A secret that does not open (sealed for another endpoint): found only when signing.
    foreign = endpoints["left"]["secrets"]
    endpoints["sealed"] = await services.store.replace(ENDPOINTS, {**odd, "secrets": foreign}, etag=etag(odd))

    message, first = await _first_round(services, app, endpoints)

    await _siblings_delivered_once(services, receiver, message, endpoints, tenant)
    assert receiver.requests(f"{tenant}-sealed") == []
    assert await _status(services, message, odd) == MessageStatus.PENDING
    assert await _attempts(services, odd) == []
    (job,) = first.jobs
    assert (job.endpoint_id, job.attempts, job.retry_in) == (
        odd["id"],
        0,
        services.settings.retry_floor_seconds,
    )
