"""Load: a steady rate of message creates against Herald on devhost for a fixed time.

Herald runs on devhost against a private Cosmos DB server and a private Azurite (never the shared
emulators), and sends to a loopback receiver that answers a set fraction of requests with 500, so
retry workflows run all along. Reports accepted creates per second, deliveries per second, the
latency from create to receipt (p50/p95/p99, all deliveries and first attempts only), the retry
workflows pending, the host's peak RSS and its RSS after 1 and after 10 minutes (bounded memory:
after 10 minutes within 1.5x of after 1 minute), then checks the delivery invariant: every
accepted message-endpoint pair delivered or recorded as failed.

    .venv/bin/python bench/load.py            # 10 minutes at 20 messages/s (the spec)
    .venv/bin/python bench/load.py --quick    # 60 s
    .venv/bin/python bench/load.py --rate 30 --duration 300 --fail 0.1 --endpoints 2

Prints a table, writes bench/results/load.json (load_quick.json with --quick) and, when matplotlib
is importable, a plot beside it. Everything it starts it stops, by pid; every loop is bounded.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.output import pyplot, save_plot, write_json  # noqa: E402
from devhost.testing import run_devhost  # noqa: E402
from tests.support.emulators import private_azurite, private_cosmos  # noqa: E402
from tests.support.faults import (  # noqa: E402
    Api,
    Ledger,
    Report,
    api_stream,
    audit_by_ids,
    fault_env,
    live_workflows,
)
from tests.support.receivers import Behaviour, Receiver, running_receiver  # noqa: E402
from tests.support.settings import herald_env  # noqa: E402
from tests.support.stats import percentile  # noqa: E402
from tests.support.tokens import Issuer  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SAMPLE_SECONDS = 1.0
# Retry workflows are listed less often: the listing itself costs the host.
PENDING_EVERY_SAMPLES = 5
MEMORY_BOUND = 1.5
# Retries: 5, 10, 20 and 40 s apart (about 75 s in all), on the wall clock.
RETRY_SCHEDULE = "5,10,20,40"
SETTLE_LIMIT_SECONDS = 240.0


@dataclass
class Sample:
    at: float
    accepted: int
    delivered: int
    rss_mb: float
    pending: int | None


@dataclass
class Sampler:
    """Samples the host every second on a thread of its own: RSS, accepted and delivered so far."""

    process: psutil.Process
    ledger: Ledger
    receiver: Receiver
    host_url: str
    started: float
    samples: list[Sample] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def rss_mb(self) -> float:
        total: int = self.process.memory_info().rss
        for child in self.process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total / 2**20

    def run(self, limit_seconds: float) -> None:
        deadline = self.started + limit_seconds
        n = 0
        while not self.stop.is_set() and time.monotonic() < deadline:
            pending: int | None = None
            if n % PENDING_EVERY_SAMPLES == 0:
                try:
                    pending = live_workflows(self.host_url)
                except httpx.HTTPError:
                    # A busy host may not answer in time: no sample this time.
                    pending = None
            accepted = len(self.ledger.accepted_refs())
            delivered = sum(1 for hit in self.receiver.snapshot() if hit.acknowledged)
            self.samples.append(
                Sample(round(time.monotonic() - self.started, 2), accepted, delivered, self.rss_mb(), pending)
            )
            n += 1
            self.stop.wait(SAMPLE_SECONDS)

    def rss_at(self, seconds: float) -> float | None:
        """RSS at the first sample at or after `seconds` into the run."""
        return next((s.rss_mb for s in self.samples if s.at >= seconds), None)


def latencies(ledger: Ledger, receiver: Receiver) -> tuple[list[float], list[float]]:
    """Milliseconds from each create's start to its pair's first acknowledged delivery; all pairs,
    and the pairs whose first request succeeded."""
    sent = {s.ref: s.started for s in ledger.sent if s.accepted}
    hits_by_pair: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for hit in receiver.snapshot():
        if hit.ref in sent:
            hits_by_pair[(hit.ref, hit.path)].append(hit)
    every: list[float] = []
    first: list[float] = []
    for (ref, _), hits in hits_by_pair.items():
        hits.sort(key=lambda hit: hit.at)
        acknowledged = [hit for hit in hits if hit.acknowledged]
        if not acknowledged:
            continue
        latency = (acknowledged[0].at - sent[ref]) * 1000
        every.append(latency)
        if hits[0].acknowledged:
            first.append(latency)
    return every, first


def run(args: argparse.Namespace) -> dict[str, Any]:
    issuer = Issuer()
    tenant = f"tenant-load-{uuid.uuid4().hex[:8]}"
    count = int(args.rate * args.duration)
    with private_cosmos() as cosmos, private_azurite() as storage, running_receiver() as receiver:
        env = fault_env(
            herald_env(issuer, TASK_HUB_NAME="heraldbench"),
            cosmos_endpoint=cosmos.endpoint,
            storage=storage.connection_string,
            DEVHOST_DURABLE_TIMER_SCALE="1",
            HERALD_RETRY_SCHEDULE=RETRY_SCHEDULE,
            HERALD_RETRY_FLOOR_SECONDS="5",
            HERALD_DELIVERY_TIMEOUT_SECONDS="5",
            # The sweeper as deployed: every minute, two minutes' grace.
            HERALD_SWEEP_SCHEDULE="0 */1 * * * *",
            HERALD_SWEEP_GRACE_SECONDS="120",
        )
        with run_devhost(ROOT, env=env) as host:
            # Valid past the run and its audit, however long `--duration` makes it.
            api = Api(host.base_url, issuer.mint(tenant, lifetime=int(args.duration) + 3600))
            try:
                app_id = api.create_app("load")
                targets = [api.create_target(app_id, receiver, f"load-{n}") for n in range(args.endpoints)]
                receiver.behave(Behaviour(fail_fraction=args.fail))
                ledger = Ledger()
                started = time.monotonic()
                sampler = Sampler(psutil.Process(host.process.pid), ledger, receiver, host.base_url, started)
                sampling = threading.Thread(
                    target=sampler.run, args=(args.duration + SETTLE_LIMIT_SECONDS + 600,), daemon=True
                )
                sampling.start()
                # Open loop: arrivals keep the rate however slow the answers get (up to 64 at once).
                # A host that falls too far behind ends the stream 5 minutes after its schedule.
                kept_up = True
                try:
                    with api_stream(
                        api, app_id, ledger, count=count, rate=args.rate, prefix="load", workers=64, grace=300
                    ):
                        pass
                except AssertionError:
                    kept_up = False
                stream_seconds = time.monotonic() - started
                pending_at_end = live_workflows(host.base_url)
                # The last retries come due within the schedule; then the invariant is checked.
                settle_deadline = time.monotonic() + SETTLE_LIMIT_SECONDS
                while live_workflows(host.base_url) and time.monotonic() < settle_deadline:
                    time.sleep(2)
                receiver.healthy()
                report = audit_by_ids("load", api, app_id, targets, receiver, ledger)
                sampler.stop.set()
                sampling.join(10)
            finally:
                api.close()
    result = summarize(args, ledger, receiver, sampler, report, stream_seconds, pending_at_end)
    result["stream_kept_up"] = kept_up
    return result


def summarize(
    args: argparse.Namespace,
    ledger: Ledger,
    receiver: Receiver,
    sampler: Sampler,
    report: Report,
    stream_seconds: float,
    pending_at_end: int,
) -> dict[str, Any]:
    every, first = latencies(ledger, receiver)
    creates = [(s.started - sampler.started, (s.ended - s.started) * 1000) for s in ledger.sent]
    minute_1 = [took for at, took in creates if at < 60]
    last_minute = [took for at, took in creates if at >= stream_seconds - 60]
    in_stream = [s for s in sampler.samples if s.at <= stream_seconds]
    delivered_in_stream = in_stream[-1].delivered if in_stream else 0
    rss_1 = sampler.rss_at(60)
    rss_10 = sampler.rss_at(600)
    pending = [s.pending for s in in_stream if s.pending is not None]

    def ms(value: float) -> float | None:
        # null in the JSON where there was nothing to measure (JSON has no NaN)
        return round(value, 1) if math.isfinite(value) else None

    return {
        "config": {
            "rate_per_s": args.rate,
            "duration_s": args.duration,
            "endpoints": args.endpoints,
            "receiver_fail_fraction": args.fail,
            "retry_schedule_s": RETRY_SCHEDULE,
        },
        "accepted": report.accepted,
        "accepted_per_s": round(report.accepted / stream_seconds, 2),
        "answers": report.answers,
        "deliveries_per_s": round(delivered_in_stream / stream_seconds, 2),
        "latency_ms": {
            "p50": ms(percentile(every, 0.50)),
            "p95": ms(percentile(every, 0.95)),
            "p99": ms(percentile(every, 0.99)),
        },
        "create_latency_ms": {
            "p50": ms(percentile([took for _, took in creates], 0.50)),
            "p99": ms(percentile([took for _, took in creates], 0.99)),
            "p50_first_minute": ms(percentile(minute_1, 0.50)),
            "p50_last_minute": ms(percentile(last_minute, 0.50)),
        },
        "first_attempt_latency_ms": {
            "p50": ms(percentile(first, 0.50)),
            "p95": ms(percentile(first, 0.95)),
            "p99": ms(percentile(first, 0.99)),
        },
        "retries_pending": {"max": max(pending, default=0), "at_end_of_stream": pending_at_end},
        "rss_mb": {
            "peak": round(max((s.rss_mb for s in sampler.samples), default=0.0), 1),
            # The peak while messages streamed in (the end's audit lists everything, which costs more).
            "peak_during_stream": round(max((s.rss_mb for s in in_stream), default=0.0), 1),
            "after_1_min": round(rss_1, 1) if rss_1 is not None else None,
            "after_10_min": round(rss_10, 1) if rss_10 is not None else None,
            "bound": MEMORY_BOUND,
            "bounded": (rss_10 <= MEMORY_BOUND * rss_1) if rss_1 and rss_10 else None,
        },
        "invariant": {
            "pairs": report.pairs,
            "delivered": report.delivered,
            "failed": report.failed,
            "lost": len(report.lost),
            "duplicates": report.duplicates,
            "duplicate_ratio": round(report.duplicate_ratio, 4),
            "holds": not report.lost and report.bad_signatures == 0,
            "lost_examples": report.lost[:20],
        },
        "timeline": [s.__dict__ for s in sampler.samples],
    }


def print_table(result: dict[str, Any]) -> None:
    config, latency, first, rss = (
        result["config"],
        result["latency_ms"],
        result["first_attempt_latency_ms"],
        result["rss_mb"],
    )
    create = result["create_latency_ms"]
    bounded = {True: "met", False: "NOT met", None: "n/a (run < 10 min)"}[rss["bounded"]]
    invariant = result["invariant"]
    rows = [
        ("rate (target)", f"{config['rate_per_s']}/s for {config['duration_s']} s"),
        ("endpoints x receiver 500s", f"{config['endpoints']} x {config['receiver_fail_fraction']:.0%}"),
        ("accepted", f"{result['accepted']} ({result['accepted_per_s']}/s)"),
        ("stream finished on time", "yes" if result["stream_kept_up"] else "NO: the host fell behind"),
        ("answers", json.dumps(result["answers"])),
        ("deliveries/s", f"{result['deliveries_per_s']}"),
        ("latency p50/p95/p99 ms", f"{latency['p50']} / {latency['p95']} / {latency['p99']}"),
        (
            "API create p50/p99 ms (p50 1st, last min)",
            f"{create['p50']} / {create['p99']} ({create['p50_first_minute']}, {create['p50_last_minute']})",
        ),
        ("first attempts p50/p95/p99 ms", f"{first['p50']} / {first['p95']} / {first['p99']}"),
        (
            "retries pending (max, end)",
            f"{result['retries_pending']['max']}, {result['retries_pending']['at_end_of_stream']}",
        ),
        ("RSS peak MB (during stream, overall)", f"{rss['peak_during_stream']}, {rss['peak']}"),
        ("RSS after 1 / 10 min MB", f"{rss['after_1_min']} / {rss['after_10_min']}"),
        (f"memory bounded (10 min <= {MEMORY_BOUND}x 1 min)", bounded),
        (
            "invariant (pairs: delivered+failed, lost)",
            f"{invariant['pairs']}: {invariant['delivered']}+{invariant['failed']}, {invariant['lost']}"
            f" -> {'holds' if invariant['holds'] else 'BROKEN'}",
        ),
        ("duplicates", f"{invariant['duplicates']} ({invariant['duplicate_ratio']:.2%})"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'metric':<{width}}  value")
    print("-" * (width + 40))
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def plot(result: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    if plt is None:
        return
    timeline = result["timeline"]
    seconds = [s["at"] for s in timeline]
    figure, (rates, memory) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for key, label in (("accepted", "accepted/s"), ("delivered", "deliveries/s")):
        totals = [s[key] for s in timeline]
        steps = zip(totals, totals[1:], seconds, seconds[1:], strict=False)
        per_second = [0.0] + [(b - a) / max(t1 - t0, 1e-6) for a, b, t0, t1 in steps]
        rates.plot(seconds, per_second, label=label, linewidth=0.8)
    pending = [(s["at"], s["pending"]) for s in timeline if s["pending"] is not None]
    if pending:
        rates.plot([p[0] for p in pending], [p[1] for p in pending], label="retries pending", linewidth=0.8)
    rates.set_ylabel("per second / count")
    rates.legend(loc="upper right")
    config = result["config"]
    rates.set_title(
        f"Herald on devhost: {config['rate_per_s']} msg/s x {config['endpoints']} endpoints, "
        f"{config['receiver_fail_fraction']:.0%} receiver 500s"
    )
    memory.plot(seconds, [s["rss_mb"] for s in timeline], color="tab:red", linewidth=0.8)
    memory.set_ylabel("host RSS (MB)")
    memory.set_xlabel("seconds")
    save_plot(plt, figure, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="60 s instead of 10 minutes")
    parser.add_argument("--duration", type=float, default=None, help="seconds of steady load (600)")
    parser.add_argument("--rate", type=float, default=20.0, help="message creates per second (20)")
    parser.add_argument("--endpoints", type=int, default=2, help="endpoints per message (2)")
    parser.add_argument("--fail", type=float, default=0.1, help="fraction of requests answered 500 (0.1)")
    args = parser.parse_args()
    args.duration = args.duration or (60.0 if args.quick else 600.0)
    result = run(args)
    result["machine"] = {"python": platform.python_version(), "cpus": psutil.cpu_count()}
    result["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    name = "load_quick" if args.quick else "load"
    print_table(result)
    write_json(RESULTS / f"{name}.json", result)
    plot(result, RESULTS / f"{name}.png")
    return 0 if result["invariant"]["holds"] else 1


if __name__ == "__main__":
    sys.exit(main())
