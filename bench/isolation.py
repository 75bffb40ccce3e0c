"""Isolation: one tenant's deliveries hang on tarpits; another tenant's latency, before and during.

Herald runs on devhost against a private Cosmos DB server and a private Azurite (never the shared
emulators), with its default outbound settings (64 requests in flight per tenant, 32 per
destination, 256 in all, 2 s to wait for a slot, a 15 s delivery timeout). Two tenants:

- **quiet**: one application, one endpoint on a loopback receiver that answers 200 at once. It
  sends one message every `--interval` seconds, one at a time; its latency is from the start of
  the create request to the receipt (each signature checked on arrival by standardwebhooks).
- **noisy**: one application with 10 endpoints, each on a tarpit of its own (a loopback server
  that accepts connections, reads them and never answers), and `--hanging` deliveries for them
  (30 messages x 10 endpoints by default: 300).

In the same run and the same host: a warm-up, then the **baseline** phase (the quiet tenant alone
for `--phase` seconds), then the noisy tenant's messages are created and, once the tarpits hold
its connections, the **tarpit** phase (the quiet tenant again, for the same time, while the noisy
deliveries hang: 64 on the tarpits' connections, the rest waiting for the noisy tenant's slots;
the window ends before their 15 s timeout). The goal: the quiet tenant's p95 in the tarpit phase
under 250 ms and at most 2x its own baseline p95. Then, for the record (no goal), the **timeouts**
phase: the same again across the moment the hanging requests time out and the waiting ones are
put off, when the noisy tenant's deliveries all turn into retry workflows at once.

    .venv/bin/python bench/isolation.py [--phase 10] [--interval 0.05] [--hanging 300]

Prints a table, writes bench/results/isolation.json. Everything it starts it stops, by pid;
every loop is bounded; everything listens on loopback only.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.output import write_json  # noqa: E402
from devhost.testing import run_devhost  # noqa: E402
from shared.settings import HeraldSettings  # noqa: E402
from tests.support.emulators import private_azurite, private_cosmos  # noqa: E402
from tests.support.faults import Api, fault_env, live_workflows  # noqa: E402
from tests.support.receivers import Receiver, running_receiver, running_tarpits  # noqa: E402
from tests.support.settings import herald_env  # noqa: E402
from tests.support.stats import percentile  # noqa: E402
from tests.support.tokens import Issuer  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "isolation.json"
NOISY_ENDPOINTS = 10
WARMUP_MESSAGES = 20
RECEIPT_TIMEOUT_SECONDS = 30.0
CONNECTIONS_TIMEOUT_SECONDS = 10.0
GOAL_P95_MS = 250.0
GOAL_RATIO = 2.0
OUTBOUND_SETTINGS = (
    "outbound_per_tenant",
    "outbound_per_host",
    "outbound_connections",
    "outbound_wait_seconds",
)


def _default(name: str) -> Any:
    """Herald's default for a setting: the benchmark runs with the defaults."""
    return HeraldSettings.model_fields[name].default


def quiet_phase(
    api: Api, receiver: Receiver, app_id: str, path: str, *, seconds: float, interval: float, name: str
) -> dict[str, Any]:
    """One message every `interval` s for `seconds`, each after the previous one was received."""
    latencies: list[float] = []
    started = time.monotonic()
    n = 0
    while time.monotonic() - started < seconds:
        slot = started + n * interval
        if slot > time.monotonic():
            time.sleep(slot - time.monotonic())
        sent = api.send(app_id, f"{name}-{n}")
        if not sent.accepted:
            raise RuntimeError(f"{name}: create answered {sent.status} ({sent.error})")
        deadline = sent.started + RECEIPT_TIMEOUT_SECONDS
        while True:
            hits = [hit for hit in receiver.snapshot() if hit.msg_id == sent.msg_id and hit.acknowledged]
            if hits:
                if not all(hit.verified for hit in hits):
                    raise RuntimeError(f"{name}: a signature did not verify")
                latencies.append((hits[0].at - sent.started) * 1000)
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: message {n} not received in {RECEIPT_TIMEOUT_SECONDS:g}s")
            time.sleep(0.001)
        n += 1
    return {
        "messages": len(latencies),
        "seconds": round(time.monotonic() - started, 2),
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies), 1),
        "latencies_ms": [round(value, 2) for value in latencies],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    issuer = Issuer()
    messages = math.ceil(args.hanging / NOISY_ENDPOINTS)
    with (
        private_cosmos() as cosmos,
        private_azurite() as storage,
        running_receiver() as receiver,
        running_tarpits(NOISY_ENDPOINTS) as tarpits,
        tempfile.TemporaryDirectory(prefix="herald-isolation-") as state,
    ):
        env = fault_env(
            herald_env(issuer, TASK_HUB_NAME="heraldbench"),
            cosmos_endpoint=cosmos.endpoint,
            storage=storage.connection_string,
            # Deployed behaviour for everything that matters here: timeouts, retries, sweeper.
            DEVHOST_DURABLE_TIMER_SCALE="1",
            HERALD_RETRY_SCHEDULE="5,300,1800,7200,18000,36000,36000",
            HERALD_RETRY_FLOOR_SECONDS="60",
            HERALD_DELIVERY_TIMEOUT_SECONDS="15",
            HERALD_BREAKER_FAILURES="5",
            HERALD_BREAKER_COOLDOWN_SECONDS="60",
            HERALD_SWEEP_SCHEDULE="0 */1 * * * *",
            HERALD_SWEEP_GRACE_SECONDS="120",
            # Durable state of the run's own: no workflow of an earlier run wakes up in this one.
            DEVHOST_DURABLE_DB=str(Path(state) / "durable.sqlite3"),
        )
        with run_devhost(ROOT, env=env) as host:
            quiet = Api(host.base_url, issuer.mint(f"tenant-quiet-{uuid.uuid4().hex[:8]}"))
            noisy = Api(host.base_url, issuer.mint(f"tenant-noisy-{uuid.uuid4().hex[:8]}"))
            try:
                quiet_app = quiet.create_app("quiet")
                quiet_path = "quiet"
                quiet.create_target(quiet_app, receiver, quiet_path)
                noisy_app = noisy.create_app("noisy")
                for url in tarpits.urls:
                    answer = noisy.http.post(f"/api/v1/app/{noisy_app}/endpoint", json={"url": url})
                    answer.raise_for_status()

                def phase(
                    name: str, *, seconds: float = args.phase, interval: float = args.interval
                ) -> dict[str, Any]:
                    # Every phase times the same quiet tenant, app and receiver path.
                    return quiet_phase(
                        quiet, receiver, quiet_app, quiet_path, seconds=seconds, interval=interval, name=name
                    )

                phase("warm", seconds=1.0, interval=1.0 / WARMUP_MESSAGES)
                baseline = phase("base")
                burst_started = time.monotonic()
                with ThreadPoolExecutor(max_workers=8) as pool:
                    created = list(pool.map(lambda n: noisy.send(noisy_app, f"noisy-{n}"), range(messages)))
                if not all(sent.accepted for sent in created):
                    raise RuntimeError("a noisy create was refused")
                # The tarpits hold the noisy tenant's share of connections (or all of them).
                share = min(args.hanging, _default("outbound_per_tenant"))
                deadline = time.monotonic() + CONNECTIONS_TIMEOUT_SECONDS
                while tarpits.snapshot()["open"] < share and time.monotonic() < deadline:
                    time.sleep(0.01)
                at_start = tarpits.snapshot()
                held = phase("tarpit")
                at_end = tarpits.snapshot()
                window = time.monotonic() - burst_started
                after = phase("after")
                retries = live_workflows(host.base_url)
            finally:
                quiet.close()
                noisy.close()
    ratio = held["p95_ms"] / baseline["p95_ms"]
    return {
        "config": {
            "phase_s": args.phase,
            "interval_s": args.interval,
            "noisy_deliveries": messages * NOISY_ENDPOINTS,
            "noisy_endpoints": NOISY_ENDPOINTS,
            "outbound": {name: _default(name) for name in OUTBOUND_SETTINGS},
            "delivery_timeout_s": 15,
        },
        "baseline": baseline,
        "tarpit": held,
        "timeouts": after,
        "noisy_retry_workflows_after": retries,
        "tarpits": {
            "at_start_of_phase": at_start,
            "at_end_of_phase": at_end,
            "seconds_from_noisy_creates_to_end_of_phase": round(window, 2),
        },
        "p95_ratio": round(ratio, 2),
        "goals": {
            "p95_under_250_ms": held["p95_ms"] < GOAL_P95_MS,
            "p95_at_most_2x_baseline": ratio <= GOAL_RATIO,
        },
    }


def print_table(result: dict[str, Any]) -> None:
    print(f"{'phase':<34} {'messages':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    print("-" * 80)
    at_start = result["tarpits"]["at_start_of_phase"]
    at_end = result["tarpits"]["at_end_of_phase"]
    labels = (
        ("baseline", "quiet tenant alone"),
        ("tarpit", f"quiet, {result['config']['noisy_deliveries']} noisy deliveries hanging"),
        ("timeouts", "quiet, as they time out / put off"),
    )
    for key, label in labels:
        phase = result[key]
        print(
            f"{label:<34} {phase['messages']:>8} {phase['p50_ms']:>8} {phase['p95_ms']:>8}"
            f" {phase['p99_ms']:>8} {phase['max_ms']:>8}"
        )
    print()
    print(
        f"tarpit connections held open: {at_start['open']} at the phase's start, {at_end['open']} at its end"
        f" (peak {at_end['peak_open']}, {at_end['accepted']} accepted in all);"
        f" {result['noisy_retry_workflows_after']} retry workflows at the end"
    )
    goals = result["goals"]
    print(
        f"quiet p95 {result['tarpit']['p95_ms']} ms: under {GOAL_P95_MS:g} ms "
        f"{'met' if goals['p95_under_250_ms'] else 'NOT met'}; {result['p95_ratio']}x its baseline p95 "
        f"(goal at most {GOAL_RATIO:g}x): {'met' if goals['p95_at_most_2x_baseline'] else 'NOT met'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--phase", type=float, default=10.0, help="seconds of each phase (10; at most 12)")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between quiet messages (0.05)")
    parser.add_argument("--hanging", type=int, default=300, help="noisy deliveries to the tarpits (300)")
    args = parser.parse_args()
    if not 0 < args.phase <= 12:
        parser.error("--phase must be at most 12 s: the tarpit phase must end before the 15 s timeout")
    result = run(args)
    result["machine"] = {"python": platform.python_version()}
    result["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    print_table(result)
    write_json(RESULTS, result)
    return 0 if all(result["goals"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
