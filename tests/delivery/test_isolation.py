"""One tenant's load against another's deliveries: outbound lanes, put-off attempts, throttle waits.

Herald's delivery service runs in process against the Cosmos server, and sends to real loopback
servers: tarpits that accept connections and never answer, and a receiver that answers 200. The
limits are small here (4 requests in flight per tenant, 0.3 s to wait for a slot, a 1 s
timeout), so a few dozen hanging deliveries show what hundreds would in production.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web

from shared import ids
from shared.delivery.sender import AttemptResult
from shared.errors import ConflictError
from shared.models import ApplicationIn, EndpointIn, MessageIn, MessageStatus, RecoverIn
from shared.services import recovery
from shared.services.attempts import DestinationUpdate
from shared.services.delivery import RetryJob, Round
from shared.services.registry import Services
from shared.settings import HeraldSettings
from shared.store.base import ENDPOINTS, MESSAGES, DocumentStore
from shared.store.schema import EndpointDoc, MessageDoc, breaker_id, destination_id

PER_TENANT = 4
# More hanging deliveries than the connection pool Herald had before it had lanes (100).
HANGING = 110


@dataclass
class Tarpit:
    """Accepts connections and reads whatever comes, never answering."""

    url: str = ""
    accepted: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    # Set once a tenant's share of connections has been accepted.
    full: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.writers.append(writer)
        if self.accepted >= PER_TENANT:
            self.full.set()
        while await reader.read(65536):
            pass


@dataclass
class Quiet:
    """Answers every webhook 200 at once; remembers when each arrived (after `delay` s, if set)."""

    url: str = ""
    arrivals: list[float] = field(default_factory=list)
    delay: float = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.arrivals.append(time.monotonic())
        await asyncio.sleep(self.delay)
        return web.Response(text="ok")


@pytest.fixture
async def tarpit() -> AsyncIterator[Tarpit]:
    pit = Tarpit()
    server = await asyncio.start_server(pit.handle, "127.0.0.1", 0)
    pit.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    yield pit
    for writer in pit.writers:
        writer.close()
    server.close()


@pytest.fixture
async def quiet() -> AsyncIterator[Quiet]:
    receiver = Quiet()
    app = web.Application()
    app.router.add_post("/{path}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    receiver.url = f"http://127.0.0.1:{port}/hook"
    yield receiver
    await runner.cleanup()


@pytest.fixture
async def herald(store: DocumentStore, settings: HeraldSettings) -> AsyncIterator[Services]:
    small = settings.model_copy(
        update={
            "outbound_per_tenant": PER_TENANT,
            "outbound_first_wait_seconds": 0.3,
            "outbound_wait_seconds": 0.3,
            "delivery_timeout_seconds": 1.0,
            "retry_floor_seconds": 60.0,
            "breaker_failures": 1000,
        }
    )
    services = Services.build(store, small)
    yield services
    await services.close()


async def _endpoint(services: Services, tenant: str, url: str, **fields: object) -> tuple[str, EndpointDoc]:
    app, _ = await services.applications.create(tenant, ApplicationIn(name="isolation"))
    endpoint = await services.endpoints.create(
        tenant, app["id"], EndpointIn.model_validate({"url": url, **fields})
    )
    return app["id"], endpoint


async def _messages(services: Services, tenant: str, app_id: str, count: int) -> list[MessageDoc]:
    data = MessageIn.model_validate({"eventType": "a", "payload": {"n": 1}})
    return list(await asyncio.gather(*(services.messages.create(tenant, app_id, data) for _ in range(count))))


Hanging = tuple[EndpointDoc, list[MessageDoc], list[asyncio.Task[Round]]]


async def _hang(services: Services, tenant: str, tarpit: Tarpit) -> Hanging:
    """`HANGING` first rounds of `tenant` to the tarpit, started as the API's dispatch starts them."""
    app_id, endpoint = await _endpoint(services, tenant, tarpit.url)
    messages = await _messages(services, tenant, app_id, HANGING)
    rounds = [asyncio.create_task(services.delivery.first_round(message, [endpoint])) for message in messages]
    await asyncio.wait_for(tarpit.full.wait(), 5)
    # Long enough for every request to reach the tarpit, as all would without lanes, and well
    # within the 0.3 s the others wait for a slot.
    await asyncio.sleep(0.1)
    return endpoint, messages, rounds


async def test_a_tenant_whose_receivers_hang_leaves_another_tenant_prompt(
    herald: Services, tarpit: Tarpit, quiet: Quiet, tenant: str
) -> None:
    _, _, rounds = await _hang(herald, f"{tenant}-noisy", tarpit)
    # The noisy tenant holds its share of the outbound requests and no more.
    assert tarpit.accepted == PER_TENANT

    app_id, endpoint = await _endpoint(herald, tenant, quiet.url)
    (message,) = await _messages(herald, tenant, app_id, 1)
    started = time.monotonic()
    first = await herald.delivery.first_round(message, [endpoint])
    assert quiet.arrivals and quiet.arrivals[0] - started < 0.25
    assert [outcome.status for outcome in first.outcomes] == [MessageStatus.SUCCESS]
    await asyncio.gather(*rounds)


async def test_waiting_for_a_slot_is_not_counted_as_the_endpoints_failure(
    herald: Services, tarpit: Tarpit, quiet: Quiet, tenant: str
) -> None:
    hung, hung_messages, rounds = await _hang(herald, tenant, tarpit)
    # The same tenant's healthy endpoint, while its share is taken by the hanging requests.
    app_id, healthy = await _endpoint(herald, tenant, quiet.url)
    (message,) = await _messages(herald, tenant, app_id, 1)
    first = await herald.delivery.first_round(message, [healthy])

    # No request, no attempt, no failure: the pair waits, uncounted, for a retry workflow.
    assert quiet.arrivals == []
    ((done,), (job,)) = first.outcomes, first.jobs
    assert done.attempt is None and not done.attempted
    assert (job.attempts, job.endpoint_id) == (0, healthy["id"]) and 48 <= job.retry_in <= 72
    pair = await herald.store.read(MESSAGES, [tenant, app_id], destination_id(message["id"], healthy["id"]))
    assert pair is not None and pair["status"] == MessageStatus.PENDING
    await herald.delivery.after_first_round(message, first)
    assert await herald.store.read(ENDPOINTS, [tenant, app_id], breaker_id(healthy["id"])) is None

    # The hanging endpoint is charged only with the requests it actually got and left unanswered.
    noisy = await asyncio.gather(*rounds)
    for hung_message, hanging in zip(hung_messages, noisy, strict=True):
        await herald.delivery.after_first_round(hung_message, hanging)
    made = [r.outcomes[0] for r in noisy if r.outcomes[0].attempt is not None]
    assert len(made) == tarpit.accepted == PER_TENANT
    assert all(r.jobs[0].attempts == 0 for r in noisy if r.outcomes[0].attempt is None)
    state = await herald.store.read(ENDPOINTS, [tenant, hung["appId"]], breaker_id(hung["id"]))
    assert state is not None and state["failures"] == PER_TENANT


async def test_a_request_that_waited_for_its_slot_is_timed_from_when_it_is_sent(
    herald: Services, quiet: Quiet, tenant: str
) -> None:
    # Each answer takes 0.25 s; eight requests of one tenant go four at a time, so the last four
    # wait about 0.25 s for a slot first. Their attempts record the receiver's time only.
    quiet.delay = 0.25
    app_id, endpoint = await _endpoint(herald, tenant, quiet.url)
    messages = await _messages(herald, tenant, app_id, 2 * PER_TENANT)
    started = time.monotonic()
    rounds = await asyncio.gather(*(herald.delivery.first_round(m, [endpoint]) for m in messages))
    assert time.monotonic() - started >= 0.5
    assert all(r.outcomes[0].status == MessageStatus.SUCCESS for r in rounds)
    durations = [r.outcomes[0].attempt["responseDurationMs"] for r in rounds if r.outcomes[0].attempt]
    assert len(durations) == 2 * PER_TENANT and max(durations) < 400, durations


async def test_a_throttled_retry_waits_on_the_workflows_timer_not_in_its_activity(
    herald: Services, quiet: Quiet, tenant: str
) -> None:
    app_id, endpoint = await _endpoint(herald, tenant, quiet.url, throttleRate=1)
    first, second = await _messages(herald, tenant, app_id, 2)
    job = RetryJob(tenant, app_id, first["id"], endpoint["id"], 1, 5, [5, 5], 60)

    assert (await herald.delivery.attempt(job)).attempted and len(quiet.arrivals) == 1
    # The bucket is empty: the next retry does not sleep in its activity. It reserves the next
    # token and tells the workflow how long to wait for it.
    started = time.monotonic()
    held = await herald.delivery.attempt(dataclasses.replace(job, msg_id=second["id"]))
    assert time.monotonic() - started < 0.3
    assert (held.attempted, held.reserved, held.status) == (False, True, MessageStatus.PENDING)
    assert held.retry_in is not None and 0.5 < held.retry_in <= 1.0
    assert len(quiet.arrivals) == 1
    # After that wait (the workflow's durable timer) the attempt uses its reserved token at once.
    reserved = dataclasses.replace(job, msg_id=second["id"], reserved=True)
    started = time.monotonic()
    sent = await herald.delivery.attempt(reserved)
    assert sent.attempted and sent.status == MessageStatus.SUCCESS and time.monotonic() - started < 0.3
    assert len(quiet.arrivals) == 2


async def test_a_throttled_first_round_reserves_in_order_and_puts_off_the_rest(
    herald: Services, quiet: Quiet, tenant: str
) -> None:
    app_id, endpoint = await _endpoint(herald, tenant, quiet.url, throttleRate=2)
    messages = await _messages(herald, tenant, app_id, 5)
    started = time.monotonic()
    rounds = [await herald.delivery.first_round(m, [endpoint]) for m in messages]
    assert time.monotonic() - started < 1.0
    # A burst of two goes now; the other three wait for tokens half a second apart, none dropped.
    assert len(quiet.arrivals) == 2
    waits = [r.jobs[0].retry_in for r in rounds[2:]]
    assert all(r.jobs[0].reserved and r.jobs[0].attempts == 0 for r in rounds[2:])
    assert waits == sorted(waits) and 0.3 < waits[0] <= 0.5 and 1.3 < waits[-1] <= 1.5


async def _failed(
    services: Services, tenant: str, url: str, count: int, **fields: object
) -> tuple[EndpointDoc, list[MessageDoc]]:
    """An endpoint with `count` messages whose delivery failed for good (`fail` pairs)."""
    app_id, endpoint = await _endpoint(services, tenant, url, **fields)
    messages = sorted(await _messages(services, tenant, app_id, count), key=lambda m: str(m["id"]))
    for message in messages:
        result = AttemptResult(500, "no", 3, success=False)
        attempt = services.attempts.attempt_doc(message, endpoint["id"], result, url=url)
        await services.attempts.record_round(
            message, [DestinationUpdate(endpoint["id"], MessageStatus.FAIL, None, attempt)]
        )
    return endpoint, messages


def _window() -> RecoverIn:
    return RecoverIn(since=datetime.now(UTC) - timedelta(hours=1))


async def test_a_second_recovery_of_an_endpoint_is_refused_while_the_first_runs(
    herald: Services, quiet: Quiet, tenant: str
) -> None:
    endpoint, _ = await _failed(herald, tenant, quiet.url, 1)
    app_id, endpoint_id = endpoint["appId"], endpoint["id"]
    running = await herald.recovery.start(tenant, app_id, endpoint_id, _window(), seed=ids.new_seed())
    with pytest.raises(ConflictError) as refused:
        await herald.recovery.start(tenant, app_id, endpoint_id, _window())
    assert refused.value.code == "recovery_in_progress" and running["id"] in refused.value.detail
    # A retried request (same idempotency seed) still gets its own task back.
    again = await herald.recovery.start(
        tenant, app_id, endpoint_id, _window(), seed=running["id"].split("_", 1)[1]
    )
    assert again["id"] == running["id"]

    # Once it has finished, the endpoint may be recovered again.
    await herald.recovery.run_batch(recovery.workflow_input(running))
    assert (await herald.background_tasks.read(tenant, running["id"]))["status"] == "finished"
    later = await herald.recovery.start(tenant, app_id, endpoint_id, _window())
    assert later["id"] != running["id"] and later["status"] == "running"


async def test_concurrent_recoveries_of_one_endpoint_start_exactly_one(
    herald: Services, quiet: Quiet, tenant: str
) -> None:
    endpoint, _ = await _failed(herald, tenant, quiet.url, 1)
    starts = [herald.recovery.start(tenant, endpoint["appId"], endpoint["id"], _window()) for _ in range(5)]
    results = await asyncio.gather(*starts, return_exceptions=True)
    started = [r for r in results if not isinstance(r, BaseException)]
    assert len(started) == 1, results
    assert all(
        isinstance(r, ConflictError) and r.code == "recovery_in_progress" for r in results if r not in started
    )


async def test_a_recovery_batch_held_back_by_the_throttle_stops_in_order_and_waits_in_the_workflow(
    herald: Services, quiet: Quiet, tenant: str
) -> None:
    endpoint, messages = await _failed(herald, tenant, quiet.url, 3, throttleRate=1)
    task = await herald.recovery.start(tenant, endpoint["appId"], endpoint["id"], _window())
    started = time.monotonic()
    progress = await herald.recovery.run_batch(recovery.workflow_input(task))
    # One token now: the first message goes; the batch stops there instead of sleeping for more.
    assert time.monotonic() - started < 0.5
    assert len(quiet.arrivals) == 1
    assert progress == {"done": False, "cursor": messages[0]["id"], "retryIn": 1.0}
    task = await herald.background_tasks.read(tenant, task["id"])
    assert (task["status"], task["data"]) == ("running", {"messagesSent": 1, "messagesFailed": 0})
