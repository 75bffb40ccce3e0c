"""Run devhost as a subprocess from a test suite.

    with run_devhost(Path("path/to/app")) as host:
        httpx.get(f"{host.base_url}/api/health")

The host is a real separate process, as Core Tools would be, so tests exercise the app exactly as
it is served: its own event loop, settings and environment.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

LOCALHOST = "127.0.0.1"
STOP_TIMEOUT_SECONDS = 10.0
LOG_TAIL_LINES = 60
_POLL_SECONDS = 0.05
# The folder that holds the devhost package; the child runs in the app's folder and must still
# be able to import devhost when it is not installed.
_DEVHOST_ROOT = Path(__file__).resolve().parent.parent


class DevhostStartupError(RuntimeError):
    """devhost exited or did not accept connections in time; the message ends with its log."""


@dataclass(frozen=True)
class RunningDevhost:
    base_url: str  # e.g. "http://127.0.0.1:54321", without a trailing slash
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_text(self) -> str:
        """Everything the host has written to stdout and stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOCALHOST, 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def run_devhost(
    app_dir: Path,
    *,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    app_module: str = "function_app",
    startup_timeout: float = 30.0,
    extra_args: Sequence[str] = (),
    log_path: Path | None = None,
) -> Iterator[RunningDevhost]:
    """Start ``python -m devhost`` in ``app_dir`` and stop it (SIGTERM, then SIGKILL) on exit.

    ``env`` is added to this process's environment. The host's output goes to ``log_path``
    (a temporary file when None, removed after a clean run). Raises DevhostStartupError, with the
    log's tail, when the host exits early or does not accept connections within
    ``startup_timeout`` seconds.
    """
    port = port or free_port()
    own_log = log_path is None
    if log_path is None:
        handle, name = tempfile.mkstemp(prefix="devhost-", suffix=".log")
        os.close(handle)
        log_path = Path(name)
    child_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_DEVHOST_ROOT), child_env.get("PYTHONPATH", "")) if p
    )
    command = [
        sys.executable,
        "-m",
        "devhost",
        "--app",
        app_module,
        "--host",
        LOCALHOST,
        "--port",
        str(port),
        *extra_args,
    ]
    with log_path.open("wb") as log:
        # The command is this interpreter plus fixed arguments; nothing reaches a shell.
        process = subprocess.Popen(  # noqa: S603
            command,
            cwd=app_dir,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    host = RunningDevhost(f"http://{LOCALHOST}:{port}", port, process, log_path)
    clean = False
    try:
        _wait_until_listening(host, startup_timeout)
        yield host
        clean = True
    finally:
        _stop(process)
        if own_log and clean:
            log_path.unlink(missing_ok=True)


def _wait_until_listening(host: RunningDevhost, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if host.process.poll() is not None:
            _startup_failed(host, f"devhost exited with code {host.process.returncode}")
        try:
            with socket.create_connection((LOCALHOST, host.port), timeout=0.5):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            _startup_failed(host, f"devhost did not accept connections within {timeout:g}s")
        time.sleep(_POLL_SECONDS)


def _startup_failed(host: RunningDevhost, reason: str) -> None:
    tail = "\n".join(host.log_text().splitlines()[-LOG_TAIL_LINES:])
    message = f"{reason}; log {host.log_path}, last lines:\n{tail}"
    print(message, file=sys.stderr)
    raise DevhostStartupError(message)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
