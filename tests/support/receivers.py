"""Loopback servers that stand in for the world outside Herald: a webhook receiver whose answers the
test scripts or switches while messages stream in, and tarpits that accept connections and never
answer. Real HTTP (aiohttp) on 127.0.0.1, each on a free port.

A receiver records every request and the answer it gave. A request counts as acknowledged only
when the receiver answered 2xx on a connection that was still open, i.e. Herald received the
answer (a receiver that finishes after Herald gave up has acknowledged nothing).
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from ssl import SSLContext

from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.support.loops import call_on, loop_on_a_thread

LOCALHOST = "127.0.0.1"
# Polls of the test thread: often enough to see a request at once, cheap over thousands of hits.
_POLL_SECONDS = 0.02


@dataclass(frozen=True)
class Hit:
    """One request the receiver got, and its answer."""

    path: str
    msg_id: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int
    # The answer reached Herald: the connection was open when the receiver answered.
    answered: bool
    # The signature checked on arrival, as a receiver does (None: no secret known for the path).
    # Checked later, a true signature fails standardwebhooks' five-minute timestamp tolerance.
    verified: bool | None = None

    @property
    def acknowledged(self) -> bool:
        return self.answered and 200 <= self.status < 300

    @property
    def ref(self) -> str | None:
        """The test's own marker of the message, from the payload's `ref`."""
        try:
            payload = json.loads(self.body)
        except ValueError:
            return None
        ref = payload.get("ref") if isinstance(payload, dict) else None
        return str(ref) if ref is not None else None


@dataclass
class Behaviour:
    """How the receiver answers right now."""

    status: int = 200
    # Seconds to wait before answering (beyond Herald's delivery timeout: a slow receiver).
    delay: float = 0.0
    # Fraction of requests answered 500 regardless (a flaky receiver), drawn from a seeded generator.
    fail_fraction: float = 0.0
    text: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Receiver:
    """A webhook receiver: `url(path, *statuses)` answers that path's requests with the statuses in
    turn (the last one repeats); other paths answer as `behave` says (200 at once by default)."""

    base_url: str = ""
    port: int = 0
    behaviour: Behaviour = field(default_factory=Behaviour)
    by_path: dict[str, Behaviour] = field(default_factory=dict)
    scripts: dict[str, list[int]] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    # The path of every request as it arrives, before the receiver answers it.
    arrivals: list[str] = field(default_factory=list)
    # Each endpoint's signing secret, by path, to check signatures on arrival.
    secrets: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    random: random.Random = field(default_factory=lambda: random.Random(7))
    # False: requests are only handed to `on_hit`, not kept (a benchmark's millions of them).
    record: bool = True
    # Called with each hit in the receiver's loop, before its answer is sent.
    on_hit: Callable[[Hit], None] | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None
    _site: web.TCPSite | None = None

    def url(self, path: str, *answers: int) -> str:
        if answers:
            self.script(path, *answers)
        return f"{self.base_url}/{path}"

    def script(self, path: str, *answers: int) -> None:
        """From now on `path` answers these statuses in turn, the last one repeating."""
        with self.lock:
            self.scripts[path] = list(answers)

    def expect_secret(self, path: str, secret: str) -> None:
        with self.lock:
            self.secrets[path] = secret

    # --- the test's controls ---------------------------------------------------------------------

    def healthy(self) -> None:
        """Every path answers 200 at once again."""
        with self.lock:
            self.behaviour = Behaviour()
            self.by_path.clear()
            self.scripts.clear()

    def behave(self, behaviour: Behaviour, *, path: str | None = None) -> None:
        with self.lock:
            if path is None:
                self.behaviour = behaviour
            else:
                self.by_path[path] = behaviour

    def down(self) -> None:
        """Closes the listening port and every open connection: refused until `up()`."""
        assert self._loop is not None, "down() is for a receiver on its own thread (running_receiver)"
        call_on(self._loop, self._stop_site())

    def up(self) -> None:
        assert self._loop is not None, "up() is for a receiver on its own thread (running_receiver)"
        call_on(self._loop, self._start_site())

    # --- what it got -----------------------------------------------------------------------------

    def snapshot(self) -> list[Hit]:
        with self.lock:
            return list(self.hits)

    def requests(self, path: str) -> list[Hit]:
        with self.lock:
            return [hit for hit in self.hits if hit.path == path]

    def wait_for(self, path: str, count: int, *, timeout: float = 20.0) -> list[Hit]:
        """At least `count` requests for `path` (each answered); raises after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.requests(path)
            if len(got) >= count:
                return got
            time.sleep(_POLL_SECONDS)
        raise AssertionError(f"{path}: {len(self.requests(path))} requests, expected {count}")

    def wait_for_arrival(self, path: str, *, timeout: float) -> bool:
        """Whether a request for `path` arrived (answered or not) within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if path in self.arrivals:
                    return True
            time.sleep(_POLL_SECONDS)
        return False

    def acknowledged(self, ref: str) -> list[Hit]:
        """The requests for the message with this payload marker that Herald got a 2xx for."""
        with self.lock:
            return [hit for hit in self.hits if hit.acknowledged and hit.ref == ref]

    # --- serving, in the loop it runs on ------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{path}", self._handle)
        # Connections that Herald's timeouts cut must not cancel the handler: it records the hit.
        self._runner = web.AppRunner(app, handler_cancellation=False, shutdown_timeout=2.0, access_log=None)
        await self._runner.setup()
        await self._start_site()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _start_site(self) -> None:
        if self._site is not None or self._runner is None:
            return
        site = web.TCPSite(self._runner, LOCALHOST, self.port, reuse_address=True)
        await site.start()
        self._site = site
        if not self.port:
            self.port = _port_of(site)
            self.base_url = f"http://{LOCALHOST}:{self.port}"

    async def _stop_site(self) -> None:
        if self._site is not None:
            await self._site.stop()
            self._site = None
        if self._runner is not None and self._runner.server is not None:
            # Pooled keep-alive connections too: a receiver that is down answers nothing.
            for connection in list(self._runner.server.connections):
                connection.close()

    def _answer(self, path: str) -> Behaviour:
        with self.lock:
            script = self.scripts.get(path)
            if script:
                return Behaviour(status=script.pop(0) if len(script) > 1 else script[0])
            behaviour = self.by_path.get(path, self.behaviour)
            if behaviour.fail_fraction and self.random.random() < behaviour.fail_fraction:
                return Behaviour(status=500, delay=behaviour.delay)
            return behaviour

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        path = request.match_info["path"]
        answer = self._answer(path)
        if self.record:
            with self.lock:
                self.arrivals.append(path)
        if answer.delay:
            await asyncio.sleep(answer.delay)
        transport = request.transport
        with self.lock:
            secret = self.secrets.get(path)
        hit = Hit(
            path=path,
            msg_id=request.headers.get("webhook-id", ""),
            headers=dict(request.headers),
            body=body,
            at=time.monotonic(),
            status=answer.status,
            answered=transport is not None and not transport.is_closing(),
            verified=signature_holds(secret, body, request.headers) if secret else None,
        )
        if self.record:
            with self.lock:
                self.hits.append(hit)
        if self.on_hit is not None:
            self.on_hit(hit)
        text = answer.text if answer.text is not None else f"answer {answer.status}"
        return web.Response(status=answer.status, text=text, headers=dict(answer.headers))


def signature_holds(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """Whether `standardwebhooks` accepts the signature (and its timestamp, which must be recent)."""
    try:
        Webhook(secret).verify(body, dict(headers))
    except WebhookVerificationError:
        return False
    return True


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    """A receiver on its own thread and loop, so blocking test code never stalls it."""
    receiver = Receiver()
    with loop_on_a_thread("receiver", receiver.start, receiver.stop) as loop:
        receiver._loop = loop
        yield receiver


@asynccontextmanager
async def serving(app: web.Application, *, ssl_context: SSLContext | None = None) -> AsyncIterator[int]:
    """`app` served on a free loopback port in the running loop; yields the port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, LOCALHOST, 0, ssl_context=ssl_context)
    await site.start()
    try:
        yield _port_of(site)
    finally:
        await runner.cleanup()


def _port_of(site: web.TCPSite) -> int:
    port: int = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return port


@dataclass
class Tarpits:
    """Loopback servers, one per port, that accept connections and read them, never answering."""

    count: int
    # `full` is set once this many connections were accepted in all (a tenant's share, say).
    full_at: int | None = None
    urls: list[str] = field(default_factory=list)
    accepted: int = 0
    open: int = 0
    peak_open: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    full: asyncio.Event = field(default_factory=asyncio.Event)
    _servers: list[asyncio.Server] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The first tarpit's URL (for a test that needs one)."""
        return self.urls[0]

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {"accepted": self.accepted, "open": self.open, "peak_open": self.peak_open}

    async def start(self) -> None:
        for _ in range(self.count):
            server = await asyncio.start_server(self._handle, LOCALHOST, 0)
            self._servers.append(server)
            self.urls.append(f"http://{LOCALHOST}:{server.sockets[0].getsockname()[1]}/hook")

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
            # Python 3.12+: wait_closed would wait for the held connections; close them instead.
            server.close_clients()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self.lock:
            self.accepted += 1
            self.open += 1
            self.peak_open = max(self.peak_open, self.open)
            if self.full_at is not None and self.accepted >= self.full_at:
                self.full.set()
        try:
            while await reader.read(65536):
                pass
        finally:
            with self.lock:
                self.open -= 1
            writer.close()


@contextmanager
def running_tarpits(count: int) -> Iterator[Tarpits]:
    """`count` tarpits on their own thread and loop."""
    tarpits = Tarpits(count)
    with loop_on_a_thread("tarpits", tarpits.start, tarpits.stop):
        yield tarpits
