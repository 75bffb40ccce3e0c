"""The harness: Herald's host and its client, the receivers, the ceiling's process, measurement.

What every run of the benchmark needs, whichever scenario it is part of: loopback receivers that
time each webhook's arrival, a load loop that keeps messages in flight, Herald served by devhost
and fed through its public API, the ceiling's loop started in a process of its own, and the CPU
and latency figures of a run.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import jwt
import psutil
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from devhost.testing import LOCALHOST, run_devhost
from tests.conftest import AUDIENCE, AZURITE_CONNECTION, EMULATOR_KEY, ISSUER, KID

ROOT = Path(__file__).resolve().parents[2]
COSMOS_ENDPOINT = os.environ.get("HERALD_TEST_COSMOS_ENDPOINT", "https://localhost:8081")
TENANT = "tenant-bench"
# About the size of a typical webhook payload; the same bytes for every run.
PADDING = "x" * 512
RECEIPT_TIMEOUT_SECONDS = 60.0
TRANSIENT_RETRIES = 3


# Receivers -----------------------------------------------------------------------------------------


@dataclass
class Receipt:
    run: str
    at: float
    latency: float


@dataclass
class Receivers:
    """One loopback server; each webhook's body names its run, its message and its start time."""

    base_url: str = ""
    receipts: list[Receipt] = field(default_factory=list)
    duplicates: int = 0
    _waiting: dict[str, tuple[int, asyncio.Event]] = field(default_factory=dict)
    _seen: set[tuple[str, str]] = field(default_factory=set)
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{path}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, LOCALHOST, 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://{LOCALHOST}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def urls(self, fanout: int) -> list[str]:
        return [f"{self.base_url}/ep{i}" for i in range(fanout)]

    def expect(self, bench_id: str, count: int) -> asyncio.Event:
        event = asyncio.Event()
        self._waiting[bench_id] = (count, event)
        return event

    async def _handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        now = time.monotonic()
        key = (body["bench_id"], request.match_info["path"])
        if key in self._seen:
            self.duplicates += 1
            return web.Response(text="again")
        self._seen.add(key)
        self.receipts.append(Receipt(body["run"], now, now - body["t0"]))
        waiting = self._waiting.get(body["bench_id"])
        if waiting is not None:
            left, event = waiting
            if left <= 1:
                del self._waiting[body["bench_id"]]
                event.set()
            else:
                self._waiting[body["bench_id"]] = (left - 1, event)
        return web.Response(text="ok")


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


def signing_material() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return key, json.dumps({"keys": [{**public, "kid": KID, "use": "sig", "alg": "RS256"}]})


def mint(key: rsa.RSAPrivateKey, scopes: str) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "azp": TENANT, "sub": "bench", "scp": scopes}
    claims |= {"iat": now, "nbf": now, "exp": now + 3600}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})


def herald_env(jwks: str, durable_db: Path) -> dict[str, str]:
    """tests/conftest.py's herald_env, with a database of the benchmark's own and no API rate limit."""
    return {
        "AzureWebJobsStorage": AZURITE_CONNECTION,
        "TASK_HUB_NAME": "heraldbench",
        "DEVHOST_DURABLE_DB": str(durable_db),
        "HERALD_SWEEP_SCHEDULE": "0 */1 * * * *",
        "HERALD_COSMOS_ENDPOINT": COSMOS_ENDPOINT,
        "HERALD_COSMOS_KEY": EMULATOR_KEY,
        "HERALD_COSMOS_VERIFY_TLS": "false",
        "HERALD_COSMOS_CREATE_CONTAINERS": "true",
        "HERALD_COSMOS_DATABASE": f"herald-bench-{uuid.uuid4().hex[:8]}",
        "HERALD_DELIVERY_ALLOWED_CIDRS": "127.0.0.0/8",
        "HERALD_DELIVERY_ALLOW_HTTP": "true",
        "HERALD_AUTH_ISSUER": ISSUER,
        "HERALD_AUTH_AUDIENCE": AUDIENCE,
        "HERALD_AUTH_JWKS": jwks,
        "HERALD_LOCAL_KEK": base64.b64encode(os.urandom(32)).decode(),
        # The benchmark is one tenant sending as fast as it can: the per-tenant limit would cap it.
        "HERALD_API_RATE_PER_SECOND": "100000",
        "HERALD_API_BURST": "100000",
    }


@contextlib.asynccontextmanager
async def herald_on_devhost(
    env: dict[str, str], key: rsa.RSAPrivateKey, *, concurrency: int
) -> AsyncIterator[Herald]:
    """Herald served by devhost with `env`, and a client that keeps `concurrency` requests open."""
    # devhost's own log lines stay quiet; Herald's JSON logs are part of what is measured.
    with run_devhost(ROOT, env=env, extra_args=("--log-level", "WARNING")) as host:
        headers = {"authorization": f"Bearer {mint(key, 'herald.read herald.write')}"}
        async with aiohttp.ClientSession(
            base_url=host.base_url,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=30.0),
            connector=aiohttp.TCPConnector(limit=concurrency),
        ) as client:
            yield Herald(
                host.base_url,
                headers["authorization"],
                mint(key, "herald.operator"),
                client,
                host.process.pid,
            )


# The stores ----------------------------------------------------------------------------------------


def cosmos_client() -> Any:
    """An async client of the Cosmos server Herald uses (the caller enters and closes it)."""
    from azure.cosmos.aio import CosmosClient

    return CosmosClient(COSMOS_ENDPOINT, credential=EMULATOR_KEY, connection_verify=False)


def queue_client(name: str) -> Any:
    """An async client of one queue on Azurite."""
    from azure.storage.queue.aio import QueueClient

    return QueueClient.from_connection_string(AZURITE_CONNECTION, name)


def queue_endpoint() -> str:
    parts = dict(part.split("=", 1) for part in AZURITE_CONNECTION.split(";") if "=" in part)
    return parts["QueueEndpoint"]


async def drop_databases(names: list[str]) -> None:
    """The run's databases go when it ends: the local server keeps everything in memory, and a
    server grown by earlier runs (gigabytes after a few) collects garbage in the middle of later ones."""
    from azure.core.exceptions import ResourceNotFoundError

    async with cosmos_client() as cosmos:
        for name in names:
            with contextlib.suppress(ResourceNotFoundError):
                await cosmos.delete_database(name)


# The ceiling's process -----------------------------------------------------------------------------


async def run_ceiling(spec: dict[str, Any]) -> dict[str, float]:
    """The ceiling in a subprocess, so that it has a process (and a core) of its own, as Herald does.

    Returns the CPU seconds the loop and the Cosmos server spent in its measured window (the
    loop's last line of output).
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.delivery.ceiling",
        json.dumps(spec),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the ceiling loop exited with {process.returncode}")
    answer: dict[str, float] = json.loads(output.decode().strip().splitlines()[-1])
    return answer


# Measuring -----------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)] if ordered else float("nan")


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


def cpu_seconds(pid: int | None) -> float:
    """A process's CPU time so far; NaN when it is not known (the server's pid was not found)."""
    if pid is None:
        return float("nan")
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def listener_pid(endpoint: str) -> int | None:
    """The process listening on the endpoint's port (the local Cosmos server), if this user may see it."""
    port = urlsplit(endpoint).port
    try:
        connections = psutil.net_connections("tcp")
    except psutil.AccessDenied:
        return None
    return next((c.pid for c in connections if c.status == psutil.CONN_LISTEN and c.laddr.port == port), None)


def per_delivery(seconds: float, deliveries: int) -> float:
    return round(seconds * 1000 / deliveries, 3) if deliveries else float("nan")


def first_start(receivers: Receivers, run: str, fallback: float) -> float:
    """A subprocess run's start: its first message's start time, as its receipts tell."""
    starts = [r.at - r.latency for r in receivers.receipts if r.run == run]
    return min(starts, default=fallback)


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
