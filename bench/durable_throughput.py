"""Durable orchestrations per second on devhost: a 5-activity sequence and a 100-activity fan-out.

    .venv/bin/python bench/durable_throughput.py [--sequence-instances 500] [--fan-out-instances 20]

Runs bench/apps/durable on a devhost subprocess (its SQLite store in a temporary folder) and
measures, for each shape:
- latency: one instance alone, start to Completed (median of a few), which gives the activities
  per second a single instance achieves, the unit of the published figures;
- throughput: many instances started at once, orchestrations and activities per second overall.

Prints a table beside the performance targets published for the Durable Functions Azure Storage
backend (about 5 activities/s for activities in sequence, about 100 activities/s fanned out, per
instance) and writes bench/results/durable_throughput.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

# Run as a script from anywhere: devhost lives in the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.output import write_json
from devhost.testing import run_devhost

APP_DIR = Path(__file__).resolve().parent / "apps" / "durable"
RESULTS = Path(__file__).resolve().parent / "results" / "durable_throughput.json"
STATUS_API = "/runtime/webhooks/durabletask/instances"
# Activities per second for one orchestration instance, Azure Storage backend.
PUBLISHED_PER_INSTANCE = {"sequence": 5.0, "fan_out": 100.0}
LATENCY_RUNS = 5
POLL_SECONDS = 0.005
TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class Result:
    orchestrator: str
    activities_per_instance: int
    instances: int
    median_latency_s: float
    per_instance_activities_per_s: float
    orchestrations_per_s: float
    activities_per_s: float
    published_per_instance_activities_per_s: float


async def _start(http: httpx.AsyncClient, orchestrator: str, instance_id: str, activities: int) -> None:
    response = await http.post(f"/api/start/{orchestrator}/{instance_id}", json=activities)
    response.raise_for_status()


async def _wait_all(http: httpx.AsyncClient, prefix: str, count: int) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        query = {"instanceIdPrefix": prefix, "runtimeStatus": "Completed"}
        response = await http.get(STATUS_API, params=query)
        if len(response.json()) >= count:
            return
        await asyncio.sleep(POLL_SECONDS)
    raise TimeoutError(f"{count} instances with prefix {prefix} did not complete in {TIMEOUT_SECONDS}s")


async def _run_batch(http: httpx.AsyncClient, orchestrator: str, activities: int, instances: int) -> float:
    """Seconds from the first start request until every instance has completed."""
    prefix = f"{orchestrator}-{uuid.uuid4().hex[:8]}-"
    began = time.perf_counter()
    await asyncio.gather(*(_start(http, orchestrator, f"{prefix}{n}", activities) for n in range(instances)))
    await _wait_all(http, prefix, instances)
    return time.perf_counter() - began


async def _measure(base_url: str, orchestrator: str, activities: int, instances: int) -> Result:
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as http:
        await _run_batch(http, orchestrator, activities, 1)  # warm-up: imports, first SQLite pages
        latencies = [await _run_batch(http, orchestrator, activities, 1) for _ in range(LATENCY_RUNS)]
        elapsed = await _run_batch(http, orchestrator, activities, instances)
    latency = statistics.median(latencies)
    return Result(
        orchestrator=orchestrator,
        activities_per_instance=activities,
        instances=instances,
        median_latency_s=round(latency, 4),
        per_instance_activities_per_s=round(activities / latency, 1),
        orchestrations_per_s=round(instances / elapsed, 2),
        activities_per_s=round(instances * activities / elapsed, 1),
        published_per_instance_activities_per_s=PUBLISHED_PER_INSTANCE[orchestrator],
    )


def _table(results: list[Result]) -> str:
    columns = [
        ("shape", 16),
        ("instances", 10),
        ("orch/s", 9),
        ("act/s", 9),
        ("1-inst latency ms", 19),
        ("1-inst act/s", 14),
        ("Azure Storage act/s", 21),
    ]
    header = "".join(
        name.rjust(width) if index else name.ljust(width) for index, (name, width) in enumerate(columns)
    )
    lines = [header, "-" * len(header)]
    for r in results:
        cells = [
            f"{r.orchestrator} x{r.activities_per_instance}",
            str(r.instances),
            f"{r.orchestrations_per_s:.2f}",
            f"{r.activities_per_s:.1f}",
            f"{r.median_latency_s * 1000:.1f}",
            f"{r.per_instance_activities_per_s:.1f}",
            f"{r.published_per_instance_activities_per_s:.1f}",
        ]
        lines.append(
            "".join(
                cell.rjust(width) if index else cell.ljust(width)
                for index, (cell, (_, width)) in enumerate(zip(cells, columns, strict=True))
            )
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequence-instances", type=int, default=500)
    parser.add_argument("--fan-out-instances", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="durable-bench-") as scratch:
        env = {"DEVHOST_DURABLE_DB": str(Path(scratch) / "durable.sqlite3")}
        with run_devhost(APP_DIR, env=env, log_path=Path(scratch) / "devhost.log") as host:
            results = [
                asyncio.run(_measure(host.base_url, "sequence", 5, args.sequence_instances)),
                asyncio.run(_measure(host.base_url, "fan_out", 100, args.fan_out_instances)),
            ]
    print(_table(results))
    write_json(
        RESULTS,
        {
            "benchmark": "durable_throughput",
            "generated": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "published_source": (
                "Durable Functions Azure Storage provider performance targets (Microsoft's "
                "published figures): about 5 activities/s in sequence, 100 fanned out, per instance"
            ),
            "results": [asdict(r) for r in results],
        },
    )


if __name__ == "__main__":
    main()
