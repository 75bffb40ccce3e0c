"""A loopback TCP proxy the test controls: forwards bytes untouched (TLS passes through), and can
drop every open connection and refuse new ones for a while, as a network cut between Herald and a
dependency would.

    with running_proxy(target_port) as proxy:
        env = {"HERALD_COSMOS_ENDPOINT": f"https://127.0.0.1:{proxy.port}"}
        ...
        proxy.cut(5.0)  # every connection reset now; connections refused for 5 s
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.support.loops import call_on, loop_on_a_thread

LOCALHOST = "127.0.0.1"
_CHUNK = 65536
# The first line of an HTTP/1.1 request, as it goes up a plain-text (not TLS) connection.
_REQUEST_LINE = re.compile(rb"(?:^|\r\n)[A-Z]+ \S+ HTTP/1\.[01]\r\n")


@dataclass
class ProxyStats:
    accepted: int = 0
    refused_windows: int = 0
    dropped: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    # HTTP requests seen going up; plain-text HTTP only (TLS passes through uncounted).
    requests: int = 0


@dataclass
class TcpProxy:
    """Runs on its own thread and event loop, so blocking test code never stalls the traffic."""

    target_port: int
    target_host: str = LOCALHOST
    port: int = 0
    stats: ProxyStats = field(default_factory=ProxyStats)
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _server: asyncio.Server | None = None
    _pipes: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _reopen: asyncio.TimerHandle | None = None

    # --- the test's controls (called from the test's thread) -------------------------------

    def cut(self, seconds: float) -> None:
        """Resets every open connection and refuses new ones for `seconds`, then accepts again."""
        call_on(self._loop, self._cut(seconds))

    @property
    def listening(self) -> bool:
        return self._server is not None

    # --- inside the proxy's loop ------------------------------------------------------------

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, LOCALHOST, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close_listener(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            # close() stops listening at once. Not wait_closed(): since Python 3.12 it also waits for
            # every connection the server accepted to end, which a cut must not wait for.
            server.close()
            await self._drop_all()

    async def _cut(self, seconds: float) -> None:
        await self._close_listener()
        self.stats.refused_windows += 1
        if self._reopen is not None:
            self._reopen.cancel()

        def reopen() -> None:
            self._reopen = None
            self._loop.create_task(self._listen())

        self._reopen = self._loop.call_later(seconds, reopen)

    async def _drop_all(self) -> None:
        for writer in list(self._writers):
            # abort(): no FIN handshake, both peers see the connection reset at once.
            writer.transport.abort()
        self.stats.dropped += len(self._writers) // 2
        self._writers.clear()
        for pipe in list(self._pipes):
            pipe.cancel()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.stats.accepted += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            client_writer.transport.abort()
            return
        pair = {client_writer, upstream_writer}
        self._writers |= pair
        up = self._loop.create_task(self._pump(client_reader, upstream_writer, upstream=True))
        down = self._loop.create_task(self._pump(upstream_reader, client_writer, upstream=False))
        self._pipes |= {up, down}
        try:
            await asyncio.gather(up, down, return_exceptions=True)
        finally:
            self._pipes -= {up, down}
            for writer in pair:
                self._writers.discard(writer)
                writer.transport.abort()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, upstream: bool
    ) -> None:
        try:
            while chunk := await reader.read(_CHUNK):
                if upstream:
                    self.stats.bytes_up += len(chunk)
                    self.stats.requests += len(_REQUEST_LINE.findall(chunk))
                else:
                    self.stats.bytes_down += len(chunk)
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            # One side ended: half-close the other so the peer sees the end too.
            with contextlib.suppress(OSError, RuntimeError):
                if writer.can_write_eof():
                    writer.write_eof()

    async def _shutdown(self) -> None:
        if self._reopen is not None:
            self._reopen.cancel()
        await self._close_listener()
        await self._drop_all()


@contextmanager
def running_proxy(target_port: int, *, port: int = 0, target_host: str = LOCALHOST) -> Iterator[TcpProxy]:
    """A proxy to `target_host:target_port` on loopback `port` (0: a free one), stopped on exit."""
    proxy = TcpProxy(target_port=target_port, target_host=target_host, port=port)
    with loop_on_a_thread(f"tcp-proxy-{target_port}", proxy._listen, proxy._shutdown, proxy._loop):
        yield proxy
