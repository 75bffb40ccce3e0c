"""Fan-out: one message to 1, 10 and 100 endpoints; deliveries per second and latency per case.

Herald runs on devhost against a private Cosmos DB server and a private Azurite (never the shared
emulators); every endpoint is a path of one loopback receiver that answers 200 at once. For each
case an application gets that many endpoints, then messages are sent one at a time, each after the
previous one reached all its endpoints. Latency is from the start of the create request to each
endpoint's receipt; deliveries per second is endpoints / (last receipt - create start).

    .venv/bin/python bench/fanout.py [--runs 5] [--cases 1,10,100]

Prints a table, writes bench/results/fanout.json and, when matplotlib is importable, a plot.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.output import pyplot, save_plot, write_json  # noqa: E402
from devhost.testing import run_devhost  # noqa: E402
from tests.support.emulators import private_azurite, private_cosmos  # noqa: E402
from tests.support.faults import Api, fault_env  # noqa: E402
from tests.support.receivers import Receiver, running_receiver  # noqa: E402
from tests.support.settings import herald_env  # noqa: E402
from tests.support.stats import percentile  # noqa: E402
from tests.support.tokens import Issuer  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "fanout.json"
DELIVERY_TIMEOUT_SECONDS = 60.0


def one_message(api: Api, receiver: Receiver, app_id: str, endpoints: int, ref: str) -> dict[str, Any]:
    """Sends one message and waits (bounded) until every endpoint received it."""
    started = time.monotonic()
    sent = api.send(app_id, ref)
    if not sent.accepted:
        raise RuntimeError(f"create answered {sent.status} ({sent.error})")
    deadline = started + DELIVERY_TIMEOUT_SECONDS
    while True:
        hits = [hit for hit in receiver.snapshot() if hit.msg_id == sent.msg_id and hit.acknowledged]
        if len({hit.path for hit in hits}) >= endpoints:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{ref}: {len(hits)} of {endpoints} deliveries in {DELIVERY_TIMEOUT_SECONDS:g}s"
            )
        time.sleep(0.005)
    receipts = sorted((hit.at - started) * 1000 for hit in hits)
    return {
        "create_ms": (sent.ended - sent.started) * 1000,
        "first_ms": receipts[0],
        "last_ms": receipts[-1],
        "latencies_ms": receipts,
        "deliveries_per_s": endpoints / (receipts[-1] / 1000),
    }


def run_case(api: Api, receiver: Receiver, endpoints: int, runs: int) -> dict[str, Any]:
    app_id = api.create_app(f"fanout-{endpoints}")
    for n in range(endpoints):
        api.create_target(app_id, receiver, f"fan{endpoints}-{n}")
    # One message first, so the case starts with the application's reads warm as in steady use.
    one_message(api, receiver, app_id, endpoints, f"fan{endpoints}-warmup")
    samples = [one_message(api, receiver, app_id, endpoints, f"fan{endpoints}-{n}") for n in range(runs)]
    latencies = [latency for sample in samples for latency in sample["latencies_ms"]]

    def median(key: str) -> float:
        return round(float(statistics.median(float(sample[key]) for sample in samples)), 1)

    return {
        "endpoints": endpoints,
        "runs": runs,
        "create_ms_median": median("create_ms"),
        "first_delivery_ms_median": median("first_ms"),
        "last_delivery_ms_median": median("last_ms"),
        "latency_ms_p50": round(percentile(latencies, 0.50), 1),
        "latency_ms_p95": round(percentile(latencies, 0.95), 1),
        "deliveries_per_s_median": median("deliveries_per_s"),
        "samples": [{k: v for k, v in sample.items() if k != "latencies_ms"} for sample in samples],
    }


def print_table(cases: list[dict[str, Any]]) -> None:
    header = (
        f"{'endpoints':>9}  {'create ms':>9}  {'first ms':>8}  {'last ms':>8}  "
        f"{'p50 ms':>7}  {'p95 ms':>7}  {'deliveries/s':>12}"
    )
    print(header)
    print("-" * len(header))
    for case in cases:
        print(
            f"{case['endpoints']:>9}  {case['create_ms_median']:>9}  {case['first_delivery_ms_median']:>8}"
            f"  {case['last_delivery_ms_median']:>8}  {case['latency_ms_p50']:>7}"
            f"  {case['latency_ms_p95']:>7}  {case['deliveries_per_s_median']:>12}"
        )


def plot(cases: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()
    if plt is None:
        return
    labels = [str(case["endpoints"]) for case in cases]
    positions = range(len(cases))
    figure, (latency, rate) = plt.subplots(1, 2, figsize=(11, 4.5))
    width = 0.25
    for offset, key, label in (
        (-width, "first_delivery_ms_median", "first delivery"),
        (0.0, "latency_ms_p50", "p50"),
        (width, "last_delivery_ms_median", "last delivery"),
    ):
        latency.bar([p + offset for p in positions], [case[key] for case in cases], width, label=label)
    latency.set_xticks(list(positions), labels)
    latency.set_xlabel("endpoints per message")
    latency.set_ylabel("ms from create")
    latency.legend()
    rate.bar(list(positions), [case["deliveries_per_s_median"] for case in cases], color="tab:green")
    rate.set_xticks(list(positions), labels)
    rate.set_xlabel("endpoints per message")
    rate.set_ylabel("deliveries per second (one message)")
    figure.suptitle("Herald fan-out on devhost (median of runs)")
    save_plot(plt, figure, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="messages per case (5)")
    parser.add_argument("--cases", default="1,10,100", help="endpoints per message (1,10,100)")
    args = parser.parse_args()
    counts = [int(part) for part in args.cases.split(",") if part.strip()]
    issuer = Issuer()
    with private_cosmos() as cosmos, private_azurite() as storage, running_receiver() as receiver:
        base = herald_env(issuer, TASK_HUB_NAME="heraldbench")
        env = fault_env(base, cosmos_endpoint=cosmos.endpoint, storage=storage.connection_string)
        with run_devhost(ROOT, env=env) as host:
            api = Api(host.base_url, issuer.mint(f"tenant-fanout-{uuid.uuid4().hex[:8]}"))
            try:
                cases = [run_case(api, receiver, count, args.runs) for count in counts]
            finally:
                api.close()
    result = {
        "cases": cases,
        "machine": {"python": platform.python_version()},
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print_table(cases)
    write_json(RESULTS, result)
    plot(cases, RESULTS.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
