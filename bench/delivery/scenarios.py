"""The scenarios: per fan-out, interleaved rounds of Herald and the ceiling, then the reference runs.

Herald's and the ceiling's runs alternate (herald, ceiling, herald, ...), so that each ratio
compares two runs that met the same machine. The reference runs (raw POSTs, the ceiling with a
queue) come after every fan-out's rounds, with Herald's host stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import time
from dataclasses import dataclass
from typing import Any

from bench.delivery.harness import (
    COSMOS_ENDPOINT,
    Herald,
    Receivers,
    RunResult,
    closed_loop,
    cpu_seconds,
    first_start,
    listener_pid,
    per_delivery,
    queue_endpoint,
    run_ceiling,
    summarize,
    until_idle,
)

FANOUTS = (1, 10)
SETTLE_SECONDS = 1.0
# Containers of herald.store.operations that are Azure Storage (the Durable task hub, the poison
# queue); every other container is Cosmos DB.
STORAGE_CONTAINERS = {"durable", "herald-inbound-poison"}


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
    run = summarize(name, receivers, (first_start(receivers, name, started), 0.0))
    run.cpu_ms_per_delivery = per_delivery(cpu["cpu_seconds"], run.deliveries)
    run.store_cpu_ms_per_delivery = per_delivery(cpu["store_cpu_seconds"], run.deliveries)
    return run


async def with_references(rounds: Rounds, receivers: Receivers) -> Scenario:
    """The raw-POST and queue runs of a fan-out. They run after every fan-out's rounds: a queue run
    leaves Azurite busy (a fifth of a core) for minutes, which would slow whatever came next; so
    each queue run also waits for Azurite to be idle first."""
    fanout, spec = rounds.fanout, rounds.spec
    raw_post = await run_reference(spec, f"raw-post-f{fanout}", receivers, cosmos=False, queue=False)
    await until_idle(listener_pid(queue_endpoint()))
    queue_ceiling = await run_reference(spec, f"queue-f{fanout}", receivers, cosmos=True, queue=True)
    return Scenario(**vars(rounds), queue_ceiling=queue_ceiling, raw_post=raw_post)


async def measure(
    fanout: int, args: argparse.Namespace, herald: Herald, receivers: Receivers, database: str
) -> Rounds:
    urls = receivers.urls(fanout)
    app_id = await herald.create_app(fanout, urls)
    server = listener_pid(COSMOS_ENDPOINT)
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
        cpu_before, store_cpu_before = cpu_seconds(herald.pid), cpu_seconds(server)
        send = functools.partial(herald.send, app_id, label, receivers, fanout)
        window = await closed_loop(args.concurrency, args.duration, args.rate, send)
        # Receipts come before Herald records the attempts: let those writes land on the right side.
        await asyncio.sleep(SETTLE_SECONDS)
        run = summarize(label, receivers, window)
        run.cpu_ms_per_delivery = per_delivery(cpu_seconds(herald.pid) - cpu_before, run.deliveries)
        run.store_cpu_ms_per_delivery = per_delivery(cpu_seconds(server) - store_cpu_before, run.deliveries)
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
