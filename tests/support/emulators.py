"""Private emulator processes for fault tests and benchmarks: a Cosmos DB server and an Azurite of their own.

The shared emulators (Azurite on 10000-10002, Cosmos on 8081) serve every other test run on this
machine at the same time, so faults are only ever injected into these: each runs on free loopback
ports, is paused with SIGSTOP and resumed with SIGCONT by its pid, and is stopped by its pid.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devhost.testing import LOCALHOST, free_port
from tests.support.settings import ROOT, azurite_connection

NODE_BIN = ROOT / "node_modules" / ".bin"
COSMOS_LIB = ROOT / "node_modules" / "@vercel" / "cosmosdb-server" / "lib" / "index.js"
READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
_POLL_SECONDS = 0.1

# Starts the Cosmos server like its CLI does, but makes the account advertise `advertised_port` as
# its endpoint. The SDK routes every request to the account's advertised (writable) location after
# its first read of the account, so a proxy in front of the server is only on the path when the
# account names the proxy, as a real account names the address the application connects through.
_COSMOS_BEHIND_PROXY = """
const { createHttpsServer } = require(process.argv[1]);
const port = Number(process.argv[2]);
const advertised = Number(process.argv[3]);
const server = createHttpsServer({ keepAlive: true });
const address = server.address.bind(server);
server.address = () => ({ ...address(), port: advertised });
server.listen(port, "127.0.0.1", () => console.log(`listening on ${port}, advertising ${advertised}`));
"""


@dataclass
class EmulatorProcess:
    """One emulator process of the test's own: pause, resume and stop act on its pid only."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    paused: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)
        self.paused = False

    @contextmanager
    def paused_for_a_while(self) -> Iterator[None]:
        """Paused inside the block, resumed on leaving it whatever happened."""
        self.pause()
        try:
            yield
        finally:
            self.resume()

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        # A stopped process cannot handle SIGTERM: let it run again first.
        os.kill(self.pid, signal.SIGCONT)
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class PrivateCosmos:
    server: EmulatorProcess
    port: int
    # The port the account advertises (a proxy's), when not its own.
    advertised_port: int

    @property
    def endpoint(self) -> str:
        return f"https://{LOCALHOST}:{self.port}"


@dataclass
class PrivateAzurite:
    server: EmulatorProcess
    blob_port: int
    queue_port: int
    table_port: int

    @property
    def connection_string(self) -> str:
        return azurite_connection(blob=self.blob_port, queue=self.queue_port, table=self.table_port)


def _spawn(name: str, command: Sequence[str], *, cwd: Path = ROOT) -> EmulatorProcess:
    handle, log_name = tempfile.mkstemp(prefix=f"reliability-{name}-", suffix=".log")
    with os.fdopen(handle, "wb") as log:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return EmulatorProcess(name, process, Path(log_name))


def _answers(url: str) -> bool:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=2, context=context):  # noqa: S310 (loopback URL)
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _listens(port: int) -> bool:
    try:
        with socket.create_connection((LOCALHOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_ready(emulator: EmulatorProcess, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if emulator.process.poll() is not None:
            raise RuntimeError(f"{emulator.name} exited early:\n{emulator.log_tail()}")
        if check():
            return
        time.sleep(_POLL_SECONDS)
    emulator.stop()
    raise RuntimeError(f"{emulator.name} not ready in {READY_TIMEOUT_SECONDS:g}s:\n{emulator.log_tail()}")


@contextmanager
def private_cosmos(*, port: int | None = None, advertised_port: int | None = None) -> Iterator[PrivateCosmos]:
    """A Cosmos DB server of the caller's own (in memory, empty), stopped by its pid on exit."""
    port = port or free_port()
    if advertised_port is None:
        # Connections kept alive, as Azure's are (the server closes each one otherwise).
        command = [str(NODE_BIN / "cosmosdb-server"), "--host", LOCALHOST, "--port", str(port)]
        command.append("--keep-alive")
    else:
        command = ["node", "-e", _COSMOS_BEHIND_PROXY, str(COSMOS_LIB), str(port), str(advertised_port)]
    server = _spawn("cosmos", command)
    try:
        _wait_ready(server, lambda: _answers(f"https://{LOCALHOST}:{port}/"))
        yield PrivateCosmos(server, port, advertised_port or port)
    finally:
        server.stop()
        server.log_path.unlink(missing_ok=True)


@contextmanager
def private_azurite() -> Iterator[PrivateAzurite]:
    """An Azurite of the caller's own (in memory), stopped by its pid on exit."""
    blob, queue, table = free_port(), free_port(), free_port()
    command = [
        str(NODE_BIN / "azurite"),
        "--inMemoryPersistence",
        "--disableTelemetry",
        "--loose",
        "--skipApiVersionCheck",
        "--silent",
        *("--blobHost", LOCALHOST, "--blobPort", str(blob)),
        *("--queueHost", LOCALHOST, "--queuePort", str(queue)),
        *("--tableHost", LOCALHOST, "--tablePort", str(table)),
    ]
    with tempfile.TemporaryDirectory(prefix="reliability-azurite-") as workdir:
        # In memory; the folder only catches whatever else it writes where it runs.
        server = _spawn("azurite", command, cwd=Path(workdir))
        try:
            _wait_ready(server, lambda: all(_listens(p) for p in (blob, queue, table)))
            yield PrivateAzurite(server, blob, queue, table)
        finally:
            server.stop()
            server.log_path.unlink(missing_ok=True)
