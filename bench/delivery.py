"""Delivery throughput and latency: Herald on devhost, against a plain loop doing the same work.

    .venv/bin/python bench/delivery.py [--duration 20] [--rounds 3] [--fanouts 1,10]
                                       [--concurrency 16] [--rate 5000] [--quick]

For fan-out 1 and fan-out 10, loopback receivers (aiohttp, in this process) time each webhook's
arrival, and runs of the same length push messages through them:

- **herald**: Herald served by devhost against the emulators (its own Cosmos database, a signing key
  whose JWKS it trusts, loopback endpoints allowed), fed through the public API with aiohttp and a
  minted token, an `idempotency-key` on every create as the Svix SDKs send (aiohttp, not httpx:
  httpx's connection pool cost the load generator about 1.7 ms of CPU per request, enough to make
  the bench's own process, not Herald, the bottleneck on two cores);
- **ceiling**: a plain async loop, in a process of its own as Herald is, that creates one document
  per message on the same Cosmos server with the same SDK (azure.cosmos.aio) and POSTs it to each
  endpoint (aiohttp): the least work a durable delivery can do here;
- **ceiling + queue** (once per fan-out): the ceiling with a Storage queue (Azurite) between the
  create and the POSTs, drained by consumers in batches of 32 as the Functions host drains a queue
  trigger: the floor of a queue-triggered dispatch, the design Herald measured against and did not
  choose;
- **raw POST** (once per fan-out): the same loop without Cosmos, for reference.

Herald's and the ceiling's runs are interleaved (`--rounds`, 3 by default: herald, ceiling, herald,
ceiling, ...), so that each ratio compares two runs that met the same machine, and the median ratio
is reported. The reference runs come after every fan-out's rounds, with Herald's host stopped: a
queue run leaves Azurite busy for minutes (each queue run waits, up to 3 minutes, for it to idle).

Every run keeps `--concurrency` messages in flight (a worker sends the next message once every
endpoint has received its last one) and starts at most `--rate` messages a second. Latency is from
just before the create to the receipt, on the machine's monotonic clock. After a warm-up the run
measures for `--duration` seconds. Each run also reports the CPU time per delivery of its sending
process and of the Cosmos server (found by its listening port).

Herald's own metrics (`GET /api/v1/metrics`, read before and after) give its Cosmos and Storage
operations per delivered message (herald.store.operations: Storage is what the Durable client
calls cost the task hub); devhost's Durable API counts the orchestrations the run started. Prints
a table, writes bench/results/delivery.json and bench/results/delivery.png, and drops the Cosmos
databases it made.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devhost.testing import run_devhost  # noqa: E402
from tests.support.receivers import Hit, Receiver  # noqa: E402
from tests.support.settings import AZURITE_CONNECTION, COSMOS_ENDPOINT, EMULATOR_KEY, herald_env  # noqa: E402
from tests.support.stats import percentile  # noqa: E402
from tests.support.tokens import Issuer  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "delivery.json"
PLOT = ROOT / "bench" / "results" / "delivery.png"
TENANT = "tenant-bench"
FANOUTS = (1, 10)
# About the size of a typical webhook payload; the same bytes for every run.
PADDING = "x" * 512
RECEIPT_TIMEOUT_SECONDS = 60.0
SETTLE_SECONDS = 1.0
TRANSIENT_RETRIES = 3
# The delivery goals the README's Benchmarks section judges: half the ceiling's throughput, few
# store operations, no Durable action on the happy path. "Store operations" are every operation,
# Cosmos and Storage alike (herald.store.operations); the table also shows the two apart.
GOAL_RATIO = 0.5
GOAL_OPERATIONS_PER_MESSAGE_FANOUT_1 = 3.0
GOAL_OPERATIONS_PER_DELIVERY_FANOUT_10 = 0.5
# Containers of herald.store.operations that are Azure Storage (the Durable task hub, the poison
# queue); every other container is Cosmos DB.
STORAGE_CONTAINERS = {"durable", "herald-inbound-poison"}


# Receivers -----------------------------------------------------------------------------------------


@dataclass
class Receipt:
    run: str
    at: float
    latency: float


@dataclass
class Receivers:
    """One loopback receiver; each webhook's body names its run, its message and its start time."""

    receipts: list[Receipt] = field(default_factory=list)
    duplicates: int = 0
    # Kept off: the receiver is in the benchmark's own loop, which must spend nothing on storing.
    receiver: Receiver = field(default_factory=lambda: Receiver(record=False))
    _waiting: dict[str, tuple[int, asyncio.Event]] = field(default_factory=dict)
    _seen: set[tuple[str, str]] = field(default_factory=set)

    async def start(self) -> None:
        self.receiver.on_hit = self._count
        await self.receiver.start()

    async def stop(self) -> None:
        await self.receiver.stop()

    def urls(self, fanout: int) -> list[str]:
        return [self.receiver.url(f"ep{i}") for i in range(fanout)]

    def expect(self, bench_id: str, count: int) -> asyncio.Event:
        event = asyncio.Event()
        self._waiting[bench_id] = (count, event)
        return event

    def _count(self, hit: Hit) -> None:
        body = json.loads(hit.body)
        key = (body["bench_id"], hit.path)
        if key in self._seen:
            self.duplicates += 1
            return
        self._seen.add(key)
        self.receipts.append(Receipt(body["run"], hit.at, hit.at - body["t0"]))
        waiting = self._waiting.get(body["bench_id"])
        if waiting is not None:
            left, event = waiting
            if left <= 1:
                del self._waiting[body["bench_id"]]
                event.set()
            else:
                self._waiting[body["bench_id"]] = (left - 1, event)


def message_body(run: str) -> dict[str, Any]:
    return {"bench_id": uuid.uuid4().hex, "t0": time.monotonic(), "run": run, "padding": PADDING}


class Pacer:
    """At most `rate` starts a second across all workers."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = time.monotonic()

    async def wait(self) -> None:
        now = time.monotonic()
        slot = max(self._next, now)
        self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)


async def closed_loop(
    concurrency: int, seconds: float, rate: float, one: Callable[[], Awaitable[None]]
) -> tuple[float, float]:
    """Runs `one` from `concurrency` workers for `seconds`; returns the measured window."""
    pacer = Pacer(rate)
    started = time.monotonic()
    stop_at = started + seconds

    async def worker() -> None:
        while time.monotonic() < stop_at:
            await pacer.wait()
            await one()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return started, time.monotonic()


# Herald --------------------------------------------------------------------------------------------


@dataclass
class Herald:
    base_url: str
    token: str
    operator_token: str
    client: aiohttp.ClientSession
    # The host's process, whose CPU time each run reads.
    pid: int
    # Creates sent again after a 429 or 5xx (a busy local Cosmos server answers 503).
    retried: int = 0

    async def create_app(self, fanout: int, urls: list[str]) -> str:
        async with self.client.post("/api/v1/app", json={"name": f"bench fan-out {fanout}"}) as app:
            app.raise_for_status()
            app_id = str((await app.json())["id"])
        for url in urls:
            async with self.client.post(f"/api/v1/app/{app_id}/endpoint", json={"url": url}) as endpoint:
                endpoint.raise_for_status()
        return app_id

    async def send(self, app_id: str, run: str, receivers: Receivers, fanout: int) -> None:
        body = message_body(run)
        arrived = receivers.expect(body["bench_id"], fanout)
        for attempt in range(TRANSIENT_RETRIES + 1):
            # As the Svix SDKs do: a 429 or 5xx is sent again, with the same idempotency-key.
            async with self.client.post(
                f"/api/v1/app/{app_id}/msg",
                json={"eventType": "bench.delivery", "payload": body},
                headers={"idempotency-key": body["bench_id"]},
            ) as created:
                status, text = created.status, await created.text()
            if status == 202:
                break
            if (status != 429 and status < 500) or attempt == TRANSIENT_RETRIES:
                raise RuntimeError(f"create answered {status}: {text[:200]}")
            self.retried += 1
            await asyncio.sleep(0.2 * 2**attempt)
        await asyncio.wait_for(arrived.wait(), RECEIPT_TIMEOUT_SECONDS)

    async def store_operations(self) -> dict[tuple[str, str], float]:
        from prometheus_client.parser import text_string_to_metric_families

        async with self.client.get(
            "/api/v1/metrics", headers={"authorization": f"Bearer {self.operator_token}"}
        ) as answer:
            answer.raise_for_status()
            text = await answer.text()
        totals: dict[tuple[str, str], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "herald_store_operations_total":
                    key = (sample.labels["container"], sample.labels["operation"])
                    totals[key] = totals.get(key, 0.0) + sample.value
        return totals

    async def workflows(self) -> int:
        async with self.client.get("/runtime/webhooks/durabletask/instances") as listing:
            listing.raise_for_status()
            return len(await listing.json())


def bench_env(issuer: Issuer, durable_db: Path) -> dict[str, str]:
    """The tests' local Herald settings, with a database of the benchmark's own and no API rate limit."""
    return herald_env(
        issuer,
        database_prefix="herald-bench",
        TASK_HUB_NAME="heraldbench",
        DEVHOST_DURABLE_DB=str(durable_db),
        # The benchmark is one tenant sending as fast as it can: the per-tenant limit would cap it.
        HERALD_API_RATE_PER_SECOND="100000",
        HERALD_API_BURST="100000",
    )


# The ceiling (runs in a process of its own) -------------------------------------------------------


async def ceiling_worker(spec: dict[str, Any]) -> None:
    """The plain loop: one Cosmos document per message, then one POST per endpoint.

    With `queue`, the message goes through a dispatch queue between the two (put, then a
    consumer's receive and delete), as a queue-triggered dispatch function would: the floor of
    that design, measured to choose between it and Herald's in-process first attempt.
    """
    from azure.cosmos import PartitionKey
    from azure.cosmos.aio import CosmosClient

    async with (
        CosmosClient(COSMOS_ENDPOINT, credential=EMULATOR_KEY, connection_verify=False) as cosmos,
        aiohttp.ClientSession() as http,
        DispatchQueue(spec, http) if spec.get("queue") else contextlib.nullcontext() as queue,
    ):
        container = None
        if spec["cosmos"]:
            database = await cosmos.create_database_if_not_exists(spec["database"])
            container = await database.create_container_if_not_exists(
                id="messages", partition_key=PartitionKey(path="/appId")
            )

        async def one(run: str) -> None:
            body = message_body(run)
            data = json.dumps(body, separators=(",", ":")).encode()
            if container is not None:
                await _create(container, {"id": body["bench_id"], "appId": "bench", "payload": body})
            if queue is not None:
                await queue.dispatch(body["bench_id"], data)
            else:
                await asyncio.gather(*(_post(http, url, data) for url in spec["urls"]))

        await closed_loop(spec["concurrency"], spec["warmup"], spec["rate"], lambda: one("warmup"))
        cpu_before, store_cpu_before = time.process_time(), _cpu_seconds(spec["server_pid"])
        await closed_loop(spec["concurrency"], spec["duration"], spec["rate"], lambda: one(spec["run"]))
        # The last messages are received when the loop returns: its CPU for the run is all spent.
        cpu = {
            "cpu_seconds": time.process_time() - cpu_before,
            "store_cpu_seconds": _cpu_seconds(spec["server_pid"]) - store_cpu_before,
        }
        print(json.dumps(cpu))


class DispatchQueue:
    """A Storage queue between the create and the POSTs, drained by consumers in this process."""

    # As the Functions host fetches queue messages: up to 32 at once.
    BATCH = 32
    CONSUMERS = 4

    def __init__(self, spec: dict[str, Any], http: aiohttp.ClientSession) -> None:
        from azure.storage.queue.aio import QueueClient

        self._queue = QueueClient.from_connection_string(AZURITE_CONNECTION, f"bench-{uuid.uuid4().hex[:12]}")
        self._http = http
        self._urls: list[str] = spec["urls"]
        self._sent: dict[str, asyncio.Event] = {}
        self._consumers: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> DispatchQueue:
        await self._queue.create_queue()
        self._consumers = [asyncio.create_task(self._consume()) for _ in range(self.CONSUMERS)]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._consumers:
            task.cancel()
        await asyncio.gather(*self._consumers, return_exceptions=True)
        await self._queue.delete_queue()
        await self._queue.close()

    async def dispatch(self, bench_id: str, data: bytes) -> None:
        sent = self._sent[bench_id] = asyncio.Event()
        await self._queue.send_message(data.decode())
        await sent.wait()

    async def _consume(self) -> None:
        while True:
            messages = [
                message
                async for message in self._queue.receive_messages(
                    messages_per_page=self.BATCH, max_messages=self.BATCH, visibility_timeout=60
                )
            ]
            if not messages:
                # An empty queue: poll again shortly (the host backs off further when idle).
                await asyncio.sleep(0.05)
            # The host runs a fetched batch's invocations concurrently.
            await asyncio.gather(*(self._handle(message) for message in messages))

    async def _handle(self, message: Any) -> None:
        data = str(message.content).encode()
        await asyncio.gather(*(_post(self._http, url, data) for url in self._urls))
        await self._queue.delete_message(message)
        self._sent.pop(json.loads(data)["bench_id"]).set()


async def drop_databases(names: list[str]) -> None:
    """The run's databases go when it ends: the local server keeps everything in memory, and a
    server grown by earlier runs (gigabytes after a few) collects garbage in the middle of later ones."""
    from azure.core.exceptions import ResourceNotFoundError
    from azure.cosmos.aio import CosmosClient

    async with CosmosClient(COSMOS_ENDPOINT, credential=EMULATOR_KEY, connection_verify=False) as cosmos:
        for name in names:
            with contextlib.suppress(ResourceNotFoundError):
                await cosmos.delete_database(name)


async def _create(container: Any, doc: dict[str, Any]) -> None:
    """One document; a timeout of the busy local server is tried again, as Herald's store would."""
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError

    for attempt in range(TRANSIENT_RETRIES + 1):
        try:
            await container.create_item(doc)
            return
        except (ServiceRequestError, ServiceResponseError):
            if attempt == TRANSIENT_RETRIES:
                raise
            print("ceiling: Cosmos timed out, trying again", file=sys.stderr)
            await asyncio.sleep(0.2 * 2**attempt)


async def _post(http: aiohttp.ClientSession, url: str, data: bytes) -> None:
    async with http.post(url, data=data, headers={"content-type": "application/json"}) as answer:
        await answer.read()


SCRIPT = str(Path(__file__).resolve())


async def run_ceiling(spec: dict[str, Any]) -> dict[str, float]:
    """The ceiling in a subprocess, so that it has a process (and a core) of its own, as Herald does.

    Returns the CPU seconds the loop and the Cosmos server spent in its measured window (the
    loop's last line of output).
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable, SCRIPT, "--ceiling-worker", json.dumps(spec), stdout=asyncio.subprocess.PIPE
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the ceiling loop exited with {process.returncode}")
    answer: dict[str, float] = json.loads(output.decode().strip().splitlines()[-1])
    return answer


# Measuring -----------------------------------------------------------------------------------------


@dataclass
class RunResult:
    run: str
    deliveries: int
    seconds: float
    deliveries_per_s: float
    p50_ms: float
    p99_ms: float
    # Per second from the run's start: deliveries, p50 and p99 latency (for the plot).
    series: list[dict[str, float]]
    # CPU time of the sending process (Herald's host, or the ceiling's loop) per delivery: less
    # noisy than throughput on a shared machine, and what a serverless bill is made of.
    cpu_ms_per_delivery: float = float("nan")
    # The Cosmos server's CPU time per delivery in the same window: the store's side of the bill.
    store_cpu_ms_per_delivery: float = float("nan")


def summarize(run: str, receivers: Receivers, window: tuple[float, float]) -> RunResult:
    receipts = [r for r in receivers.receipts if r.run == run]
    started = window[0]
    # The run's length: from its start to its last receipt (in-flight messages finish after it).
    seconds = max((r.at for r in receipts), default=window[1]) - started
    buckets: dict[int, list[float]] = {}
    for receipt in receipts:
        buckets.setdefault(int(receipt.at - started), []).append(receipt.latency)
    series = [
        {
            "second": second,
            "deliveries": len(latencies),
            "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        }
        for second, latencies in sorted(buckets.items())
    ]
    latencies = [r.latency for r in receipts]
    return RunResult(
        run=run,
        deliveries=len(receipts),
        seconds=round(seconds, 3),
        deliveries_per_s=round(len(receipts) / seconds, 1) if seconds > 0 else 0.0,
        p50_ms=round(percentile(latencies, 0.5) * 1000, 2),
        p99_ms=round(percentile(latencies, 0.99) * 1000, 2),
        series=series,
    )


@dataclass
class Rounds:
    """A fan-out's interleaved Herald and ceiling runs, before its reference runs."""

    fanout: int
    spec: dict[str, Any]
    # Herald's runs and the ceiling's, interleaved (herald, ceiling, herald, ...): round k of each
    # ran back to back, so a ratio compares two runs that met the same machine.
    herald_runs: list[RunResult]
    ceiling_runs: list[RunResult]
    messages: int
    operations: dict[str, float]
    workflows_started: int


@dataclass
class Scenario(Rounds):
    """A fan-out's rounds and its reference runs."""

    # The ceiling with a dispatch queue between the create and the POSTs (once, for reference).
    queue_ceiling: RunResult
    raw_post: RunResult

    @property
    def ratios(self) -> list[float]:
        pairs = zip(self.herald_runs, self.ceiling_runs, strict=True)
        return [herald.deliveries_per_s / ceiling.deliveries_per_s for herald, ceiling in pairs]

    @property
    def ratio(self) -> float:
        """The median of the rounds' ratios: one noisy run moves it less than it moves a mean."""
        return statistics.median(self.ratios)

    @property
    def median_round(self) -> int:
        """The round whose ratio is the median (the lower one for an even count): shown and plotted."""
        ordered = sorted(range(len(self.ratios)), key=lambda k: self.ratios[k])
        return ordered[(len(ordered) - 1) // 2]

    @property
    def herald(self) -> RunResult:
        return self.herald_runs[self.median_round]

    @property
    def ceiling(self) -> RunResult:
        return self.ceiling_runs[self.median_round]

    def per_message(self, storage: bool | None = None) -> float:
        """Store operations per message: Storage only, Cosmos only, or (None) all of them."""
        chosen = [
            count
            for name, count in self.operations.items()
            if storage is None or (name.split(" ")[0] in STORAGE_CONTAINERS) == storage
        ]
        return sum(chosen) / self.messages if self.messages else float("nan")


async def run_reference(
    spec: dict[str, Any], name: str, receivers: Receivers, *, cosmos: bool, queue: bool
) -> RunResult:
    """One run of the plain loop (the ceiling, with or without a queue, or raw POSTs) in its process."""
    started = time.monotonic() + spec["warmup"]
    cpu = await run_ceiling({**spec, "run": name, "cosmos": cosmos, "queue": queue})
    run = summarize(name, receivers, (_first_start(receivers, name, started), 0.0))
    run.cpu_ms_per_delivery = _per_delivery(cpu["cpu_seconds"], run.deliveries)
    run.store_cpu_ms_per_delivery = _per_delivery(cpu["store_cpu_seconds"], run.deliveries)
    return run


IDLE_CPU_PERCENT = 5.0
IDLE_WAIT_SECONDS = 180.0


async def until_idle(pid: int | None) -> None:
    """Waits (at most IDLE_WAIT_SECONDS) until the process uses under IDLE_CPU_PERCENT of a core:
    Azurite works for minutes after a queue run, and the next queue run would pay for it."""
    if pid is None:
        return
    process = psutil.Process(pid)
    process.cpu_percent(None)
    deadline = time.monotonic() + IDLE_WAIT_SECONDS
    while time.monotonic() < deadline:
        await asyncio.sleep(2.0)
        if process.cpu_percent(None) < IDLE_CPU_PERCENT:
            return
    print(f"Azurite still busy after {IDLE_WAIT_SECONDS:g} s; the queue run starts anyway", file=sys.stderr)


def _queue_endpoint() -> str:
    parts = dict(part.split("=", 1) for part in AZURITE_CONNECTION.split(";") if "=" in part)
    return parts["QueueEndpoint"]


async def with_references(rounds: Rounds, receivers: Receivers) -> Scenario:
    """The raw-POST and queue runs of a fan-out. They run after every fan-out's rounds: a queue run
    leaves Azurite busy (a fifth of a core) for minutes, which would slow whatever came next; so
    each queue run also waits for Azurite to be idle first."""
    fanout, spec = rounds.fanout, rounds.spec
    raw_post = await run_reference(spec, f"raw-post-f{fanout}", receivers, cosmos=False, queue=False)
    await until_idle(_listener_pid(_queue_endpoint()))
    queue_ceiling = await run_reference(spec, f"queue-f{fanout}", receivers, cosmos=True, queue=True)
    return Scenario(**vars(rounds), queue_ceiling=queue_ceiling, raw_post=raw_post)


async def measure(
    fanout: int, args: argparse.Namespace, herald: Herald, receivers: Receivers, database: str
) -> Rounds:
    urls = receivers.urls(fanout)
    app_id = await herald.create_app(fanout, urls)
    server = _listener_pid(COSMOS_ENDPOINT)
    spec = {
        "urls": urls,
        "concurrency": args.concurrency,
        "rate": args.rate,
        "warmup": args.warmup,
        "duration": args.duration,
        "database": database,
        "server_pid": server,
    }

    herald_runs: list[RunResult] = []
    ceiling_runs: list[RunResult] = []
    operations: dict[str, float] = {}
    workflows_started = 0
    for k in range(args.rounds):
        label = f"herald-f{fanout}-r{k}"
        # Each round warms up as the ceiling's process does (Herald sat idle during the last one).
        await closed_loop(
            args.concurrency, args.warmup, args.rate, lambda: herald.send(app_id, "warmup", receivers, fanout)
        )
        await asyncio.sleep(SETTLE_SECONDS)
        operations_before = await herald.store_operations()
        workflows_before = await herald.workflows()
        cpu_before, store_cpu_before = _cpu_seconds(herald.pid), _cpu_seconds(server)
        send = functools.partial(herald.send, app_id, label, receivers, fanout)
        window = await closed_loop(args.concurrency, args.duration, args.rate, send)
        # Receipts come before Herald records the attempts: let those writes land on the right side.
        await asyncio.sleep(SETTLE_SECONDS)
        run = summarize(label, receivers, window)
        run.cpu_ms_per_delivery = _per_delivery(_cpu_seconds(herald.pid) - cpu_before, run.deliveries)
        run.store_cpu_ms_per_delivery = _per_delivery(_cpu_seconds(server) - store_cpu_before, run.deliveries)
        herald_runs.append(run)
        operations_after = await herald.store_operations()
        workflows_started += await herald.workflows() - workflows_before
        for (container, operation), count in operations_after.items():
            spent = count - operations_before.get((container, operation), 0.0)
            if spent > 0:
                name = f"{container} {operation}"
                operations[name] = round(operations.get(name, 0.0) + spent, 1)
        name = f"ceiling-f{fanout}-r{k}"
        ceiling_runs.append(await run_reference(spec, name, receivers, cosmos=True, queue=False))
    return Rounds(
        fanout=fanout,
        spec=spec,
        herald_runs=herald_runs,
        ceiling_runs=ceiling_runs,
        messages=sum(run.deliveries for run in herald_runs) // fanout,
        operations=dict(sorted(operations.items())),
        workflows_started=workflows_started,
    )


def _cpu_seconds(pid: int | None) -> float:
    """A process's CPU time so far; NaN when it is not known (the server's pid was not found)."""
    if pid is None:
        return float("nan")
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _listener_pid(endpoint: str) -> int | None:
    """The process listening on the endpoint's port (the local Cosmos server), if this user may see it."""
    port = urlsplit(endpoint).port
    try:
        connections = psutil.net_connections("tcp")
    except psutil.AccessDenied:
        return None
    return next((c.pid for c in connections if c.status == psutil.CONN_LISTEN and c.laddr.port == port), None)


def _per_delivery(cpu_seconds: float, deliveries: int) -> float:
    return round(cpu_seconds * 1000 / deliveries, 3) if deliveries else float("nan")


def _first_start(receivers: Receivers, run: str, fallback: float) -> float:
    """A subprocess run's start: its first message's start time, as its receipts tell."""
    starts = [r.at - r.latency for r in receivers.receipts if r.run == run]
    return min(starts, default=fallback)


# Reporting -----------------------------------------------------------------------------------------


def report(scenarios: list[Scenario], args: argparse.Namespace) -> dict[str, Any]:
    print(
        f"delivery on devhost, {args.duration:g} s per run after {args.warmup:g} s of warm-up, "
        f"{args.concurrency} messages in flight, at most {args.rate:g} messages/s"
    )
    header = (
        f"{'fan-out':>7} {'run':<12} {'deliveries/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'deliveries':>10} "
        f"{'CPU ms/delivery':>15} {'Cosmos CPU ms':>13}"
    )
    print(header)
    for s in scenarios:
        rows: list[tuple[str, RunResult]] = []
        for k, (herald, ceiling) in enumerate(zip(s.herald_runs, s.ceiling_runs, strict=True)):
            rows += [(f"herald r{k}", herald), (f"ceiling r{k}", ceiling)]
        for name, run in [*rows, ("+ queue", s.queue_ceiling), ("raw POST", s.raw_post)]:
            print(
                f"{s.fanout:>7} {name:<12} {run.deliveries_per_s:>12.1f} {run.p50_ms:>8.1f} "
                f"{run.p99_ms:>8.1f} {run.deliveries:>10} {run.cpu_ms_per_delivery:>15.3f} "
                f"{run.store_cpu_ms_per_delivery:>13.3f}"
            )
    print()
    goals: dict[str, Any] = {}
    for s in scenarios:
        cosmos, storage = s.per_message(storage=False), s.per_message(storage=True)
        print(
            f"fan-out {s.fanout}: Herald at {s.ratio:.0%} of the ceiling (median of "
            f"{', '.join(f'{ratio:.0%}' for ratio in s.ratios)}); per message {cosmos:.2f} Cosmos "
            f"and {storage:.2f} Storage operations ({cosmos / s.fanout:.2f} and {storage / s.fanout:.2f} "
            f"per delivery); {s.workflows_started} orchestrations started"
        )
        queued = s.queue_ceiling.deliveries_per_s / s.ceiling.deliveries_per_s
        print(f"  a dispatch queue alone brings the ceiling to {queued:.0%} of itself")
        herald_cpu = statistics.median(run.cpu_ms_per_delivery for run in s.herald_runs)
        ceiling_cpu = statistics.median(run.cpu_ms_per_delivery for run in s.ceiling_runs)
        print(
            f"  CPU per delivery (medians): Herald's host {herald_cpu:.3f} ms, the ceiling's loop "
            f"{ceiling_cpu:.3f} ms ({herald_cpu / ceiling_cpu:.1f}x)"
        )
        breakdown = ", ".join(f"{name} {count / s.messages:.2f}" for name, count in s.operations.items())
        print(f"  operations per message: {breakdown}")
        goals[f"fanout_{s.fanout}_ratio_to_ceiling"] = {
            "value": round(s.ratio, 3),
            "goal": f">= {GOAL_RATIO}",
            "met": s.ratio >= GOAL_RATIO,
        }
        if s.fanout == 1:
            goals["fanout_1_store_operations_per_message"] = _at_most(
                s.per_message(), GOAL_OPERATIONS_PER_MESSAGE_FANOUT_1
            )
        else:
            goals[f"fanout_{s.fanout}_store_operations_per_delivery"] = _at_most(
                s.per_message() / s.fanout, GOAL_OPERATIONS_PER_DELIVERY_FANOUT_10
            )
        goals[f"fanout_{s.fanout}_durable_actions"] = _at_most(s.workflows_started, 0)
    print()
    for name, goal in goals.items():
        print(f"{name:<42} {goal['value']:>8} goal {goal['goal']:>6}: {'met' if goal['met'] else 'MISSED'}")
    return goals


def _at_most(value: float, limit: float) -> dict[str, Any]:
    return {"value": round(value, 3), "goal": f"<= {limit:g}", "met": value <= limit}


def plot(scenarios: list[Scenario], seconds: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, len(scenarios), figsize=(6 * len(scenarios), 7), squeeze=False)
    colors = {"herald": "tab:blue", "ceiling": "tab:orange", "queue": "tab:purple", "raw": "tab:green"}
    for column, s in enumerate(scenarios):
        top, bottom = axes[0][column], axes[1][column]
        for run in (s.herald, s.ceiling, s.queue_ceiling, s.raw_post):
            # Whole seconds of the run only: the last, partial one is its tail.
            points = [point for point in run.series if point["second"] < int(seconds)]
            x = [point["second"] for point in points]
            color = colors[run.run.split("-")[0]]
            top.plot(x, [point["deliveries"] for point in points], color=color, label=run.run)
            bottom.plot(x, [point["p50_ms"] for point in points], color=color, label=f"{run.run} p50")
            p99 = [point["p99_ms"] for point in points]
            bottom.plot(x, p99, color=color, linestyle="--", alpha=0.6, label=f"{run.run} p99")
        top.set_title(f"fan-out {s.fanout}: deliveries per second")
        bottom.set_title(f"fan-out {s.fanout}: latency, create to receipt (ms)")
        bottom.set_yscale("log")
        for axis in (top, bottom):
            axis.set_xlabel("seconds into the run")
            axis.grid(alpha=0.3)
            axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(PLOT, dpi=110)
    plt.close(figure)


# Main ----------------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace) -> int:
    issuer = Issuer()
    receivers = Receivers()
    await receivers.start()
    scenarios: list[Scenario] = []
    herald_retried = 0
    env: dict[str, str] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="herald-bench-durable-") as state:
            env = bench_env(issuer, Path(state) / "durable.sqlite3")
            # devhost's own log lines stay quiet; Herald's JSON logs are part of what is measured.
            with run_devhost(ROOT, env=env, extra_args=("--log-level", "WARNING")) as host:
                headers = {"authorization": f"Bearer {issuer.mint(TENANT, 'herald.read herald.write')}"}
                async with aiohttp.ClientSession(
                    base_url=host.base_url,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=30.0),
                    connector=aiohttp.TCPConnector(limit=args.concurrency),
                ) as client:
                    herald = Herald(
                        host.base_url,
                        headers["authorization"],
                        issuer.mint(TENANT, "herald.operator"),
                        client,
                        host.process.pid,
                    )
                    database = f"{env['HERALD_COSMOS_DATABASE']}-ceiling"
                    measured = [
                        await measure(fanout, args, herald, receivers, database) for fanout in args.fanouts
                    ]
                    herald_retried = herald.retried
            for rounds in measured:
                # Herald's host has stopped: the reference runs have the machine to themselves.
                scenarios.append(await with_references(rounds, receivers))
    finally:
        await receivers.stop()
        if env:
            database = env["HERALD_COSMOS_DATABASE"]
            await drop_databases([database, f"{database}-ceiling"])

    goals = report(scenarios, args)
    print(f"creates sent again after a 429/5xx: {herald_retried}; duplicate webhooks: {receivers.duplicates}")
    plot(scenarios, args.duration)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": "delivery",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "duration_s": args.duration,
        "rounds": args.rounds,
        "warmup_s": args.warmup,
        "concurrency": args.concurrency,
        "max_rate_per_s": args.rate,
        "duplicates": receivers.duplicates,
        "herald_creates_retried": herald_retried,
        "scenarios": [
            {
                "fanout": s.fanout,
                "rounds": [
                    {"herald": _run_json(herald), "ceiling": _run_json(ceiling), "ratio": round(ratio, 3)}
                    for herald, ceiling, ratio in zip(s.herald_runs, s.ceiling_runs, s.ratios, strict=True)
                ],
                "median_round": s.median_round,
                "queue_ceiling": _run_json(s.queue_ceiling),
                "raw_post": _run_json(s.raw_post),
                "herald_to_ceiling": round(s.ratio, 3),
                "queue_ceiling_to_ceiling": round(
                    s.queue_ceiling.deliveries_per_s / s.ceiling.deliveries_per_s, 3
                ),
                "messages": s.messages,
                "store_operations_per_message": round(s.per_message(), 3),
                "cosmos_operations_per_message": round(s.per_message(storage=False), 3),
                "storage_operations_per_message": round(s.per_message(storage=True), 3),
                "operations_per_message": {
                    name: round(n / s.messages, 3) for name, n in s.operations.items()
                },
                "orchestrations_started": s.workflows_started,
            }
            for s in scenarios
        ],
        "goals": goals,
    }
    RESULTS.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)} and {PLOT.relative_to(ROOT)}")
    return 0


def _run_json(run: RunResult) -> dict[str, Any]:
    return {
        "deliveries": run.deliveries,
        "seconds": run.seconds,
        "deliveries_per_s": run.deliveries_per_s,
        "p50_ms": run.p50_ms,
        "p99_ms": run.p99_ms,
        # null when not measured (JSON has no NaN)
        "cpu_ms_per_delivery": _finite(run.cpu_ms_per_delivery),
        "cosmos_server_cpu_ms_per_delivery": _finite(run.store_cpu_ms_per_delivery),
        "series": run.series,
    }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per run (default 20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per run (default 3)")
    parser.add_argument("--concurrency", type=int, default=16, help="messages in flight (default 16)")
    parser.add_argument("--rate", type=float, default=5000.0, help="most messages started per second")
    parser.add_argument(
        "--rounds", type=int, default=3, help="Herald and ceiling runs, interleaved, per fan-out (default 3)"
    )
    parser.add_argument(
        "--fanouts",
        type=lambda text: [int(part) for part in text.split(",")],
        default=list(FANOUTS),
        help="fan-outs to measure, comma-separated (default 1,10)",
    )
    parser.add_argument("--quick", action="store_true", help="about 20 s in all: one round of 2 s runs")
    parser.add_argument("--ceiling-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ceiling_worker:
        asyncio.run(ceiling_worker(json.loads(args.ceiling_worker)))
        return 0
    if args.quick:
        args.duration, args.warmup, args.rounds = 2.0, 1.0, 1
    return asyncio.run(bench(args))


if __name__ == "__main__":
    sys.exit(main())
