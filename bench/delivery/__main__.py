"""Runs the delivery benchmark: `python -m bench.delivery [--quick]` (see the package's docstring)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from bench.delivery import __doc__ as description
from bench.delivery.harness import (
    Receivers,
    drop_databases,
    herald_env,
    herald_on_devhost,
    signing_material,
)
from bench.delivery.report import plot, report, write_results
from bench.delivery.scenarios import FANOUTS, Scenario, measure, with_references


async def bench(args: argparse.Namespace) -> int:
    key, jwks = signing_material()
    receivers = Receivers()
    await receivers.start()
    scenarios: list[Scenario] = []
    herald_retried = 0
    env: dict[str, str] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="herald-bench-durable-") as state:
            env = herald_env(jwks, Path(state) / "durable.sqlite3")
            async with herald_on_devhost(env, key, concurrency=args.concurrency) as herald:
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
    write_results(scenarios, goals, args, duplicates=receivers.duplicates, retried=herald_retried)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=description.splitlines()[0] if description else None)
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
    args = parser.parse_args()
    if args.quick:
        args.duration, args.warmup, args.rounds = 2.0, 1.0, 1
    return asyncio.run(bench(args))


if __name__ == "__main__":
    sys.exit(main())
