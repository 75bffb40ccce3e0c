"""The output: the table and the goals, the plot, and bench/results/delivery.json."""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
from datetime import UTC, datetime
from typing import Any

from bench.delivery.harness import ROOT, RunResult
from bench.delivery.scenarios import Scenario
from bench.output import save_plot, write_json

RESULTS = ROOT / "bench" / "results" / "delivery.json"
PLOT = ROOT / "bench" / "results" / "delivery.png"
# The goals. Its "storage operations" are every store operation, Cosmos and Storage alike
# (herald.store.operations); the table also shows the two apart.
GOAL_RATIO = 0.5
GOAL_OPERATIONS_PER_MESSAGE_FANOUT_1 = 3.0
GOAL_OPERATIONS_PER_DELIVERY_FANOUT_10 = 0.5


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
    save_plot(plt, figure, PLOT, dpi=110)


def write_results(
    scenarios: list[Scenario],
    goals: dict[str, Any],
    args: argparse.Namespace,
    *,
    duplicates: int,
    retried: int,
) -> None:
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
        "duplicates": duplicates,
        "herald_creates_retried": retried,
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
    write_json(RESULTS, document)


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
