"""Cold start on devhost: process start to the first 200 from GET /api/v1/health.

Herald (the app at the repository root) against a bare hello-world DFApp (bench/apps/hello), in the
same run, alternating which goes first. Both get Herald's local settings for the emulators (the
tests' own, tests/support/settings.py), though the health route touches no dependency. Prints
a table and writes bench/results/cold_start.json.

    .venv/bin/python bench/cold_start.py [--runs 5]

The time covers the interpreter, devhost, the app's imports and indexing, and the first request:
what Core Tools' `func start` would add on top is not measured here.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.output import write_json  # noqa: E402
from devhost.testing import LOCALHOST, free_port  # noqa: E402
from tests.support.settings import herald_env  # noqa: E402
from tests.support.stats import percentile  # noqa: E402
from tests.support.tokens import Issuer  # noqa: E402

APPS = {"hello": ROOT / "bench" / "apps" / "hello", "herald": ROOT}
HEALTH_PATH = "/api/v1/health"
RESULTS = ROOT / "bench" / "results" / "cold_start.json"
GOAL_RATIO = 1.3
READY_TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.005


def bench_env() -> dict[str, str]:
    """The tests' local Herald settings, with a database of the benchmark's own."""
    return herald_env(
        Issuer(),
        database_prefix="herald-bench",
        TASK_HUB_NAME="heraldbench",
        # A Durable state file of the benchmark's own, never a running devhost's.
        DEVHOST_DURABLE_DB=str(Path(tempfile.mkdtemp(prefix="herald-cold-")) / "durable.sqlite3"),
    )


def measure_once(app_dir: Path, env: dict[str, str]) -> float:
    """Milliseconds from spawning devhost to the first 200 on the health route."""
    port = free_port()
    child_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        "-m",
        "devhost",
        "--host",
        LOCALHOST,
        "--port",
        str(port),
        "--log-level",
        "WARNING",
    ]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=app_dir, env=child_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = started + READY_TIMEOUT_SECONDS
        while time.perf_counter() < deadline:
            if process.poll() is not None:
                _, errors = process.communicate()
                raise RuntimeError(f"devhost in {app_dir} exited early:\n{errors.decode(errors='replace')}")
            if _health_ok(port):
                return (time.perf_counter() - started) * 1000
            time.sleep(POLL_SECONDS)
        raise RuntimeError(f"devhost in {app_dir} did not answer within {READY_TIMEOUT_SECONDS:g}s")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _health_ok(port: int) -> bool:
    connection = http.client.HTTPConnection(LOCALHOST, port, timeout=2)
    try:
        connection.request("GET", HEALTH_PATH)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


IMPORT_PROBE = (
    "import time; started = time.perf_counter(); import function_app; "
    "print((time.perf_counter() - started) * 1000)"
)


def measure_import(app_dir: Path, env: dict[str, str]) -> float:
    """Milliseconds to import the app's function_app.py in a fresh interpreter (what the host pays)."""
    child_env = {**os.environ, **env, "PYTHONPATH": f"{app_dir}{os.pathsep}{ROOT}"}
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE],
        cwd=app_dir,
        env=child_env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def summarize(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    return {
        "samples_ms": [round(s, 1) for s in samples],
        "median_ms": round(statistics.median(ordered), 1),
        "p90_ms": round(percentile(ordered, 0.9), 1),
        "min_ms": round(ordered[0], 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="runs per app (default: 5)")
    args = parser.parse_args()
    env = bench_env()
    samples: dict[str, list[float]] = {name: [] for name in APPS}
    imports: dict[str, list[float]] = {name: [] for name in APPS}
    for run in range(args.runs):
        # Alternate which app goes first, so drift (caches, a busy machine) hits both alike.
        order = list(APPS) if run % 2 == 0 else list(reversed(APPS))
        for name in order:
            samples[name].append(measure_once(APPS[name], env))
            imports[name].append(measure_import(APPS[name], env))
    results = {name: summarize(values) for name, values in samples.items()}
    import_results = {name: summarize(values) for name, values in imports.items()}
    ratio = results["herald"]["median_ms"] / results["hello"]["median_ms"]

    print(f"cold start on devhost, {args.runs} runs each (process start -> first 200 from {HEALTH_PATH})")
    print(f"{'app':<8} {'median ms':>10} {'p90 ms':>10} {'min ms':>10}")
    for name, summary in results.items():
        print(
            f"{name:<8} {summary['median_ms']:>10.1f} {summary['p90_ms']:>10.1f} {summary['min_ms']:>10.1f}"
        )
    print(f"\nimport of function_app.py in a fresh interpreter, {args.runs} runs each")
    print(f"{'app':<8} {'median ms':>10} {'p90 ms':>10} {'min ms':>10}")
    for name, summary in import_results.items():
        print(
            f"{name:<8} {summary['median_ms']:>10.1f} {summary['p90_ms']:>10.1f} {summary['min_ms']:>10.1f}"
        )
    verdict = "meets" if ratio <= GOAL_RATIO else "misses"
    print(f"ratio herald/hello (medians): {ratio:.2f}x ({verdict} the goal of {GOAL_RATIO}x)")

    document = {
        "benchmark": "cold_start",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "runs": args.runs,
        "metric": f"ms from process start to the first 200 from GET {HEALTH_PATH} on devhost",
        "apps": results,
        "import_function_app_ms": import_results,
        "ratio_median": round(ratio, 2),
        "goal_ratio": GOAL_RATIO,
    }
    write_json(RESULTS, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
