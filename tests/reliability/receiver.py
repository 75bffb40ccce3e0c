"""A webhook receiver for fault tests: a real HTTP server on loopback whose behaviour the test
switches while messages stream in: healthy, answering an error status, slow, or down (its port
refuses connections). It records every request and the answer it gave; a request counts as
delivered only when the receiver answered 2xx on a connection that was still open, i.e. Herald
received the answer (a receiver that finishes after Herald gave up has not acknowledged it).
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

LOCALHOST = "127.0.0.1"
_CONTROL_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Hit:
    """One request the receiver got."""

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
        """The test's own marker of the message, from the payload."""
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


@dataclass
class FaultyReceiver:
    base_url: str = ""
    port: int = 0
    behaviour: Behaviour = field(default_factory=Behaviour)
    # Paths that behave otherwise than the rest.
    by_path: dict[str, Behaviour] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    random: random.Random = field(default_factory=lambda: random.Random(7))
    # The path of every request as it arrives, before the receiver answers it.
    arrivals: list[str] = field(default_factory=list)
    # Each endpoint's signing secret, by path, to check signatures on arrival.
    secrets: dict[str, str] = field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _runner: web.AppRunner | None = None
    _site: web.TCPSite | None = None

    def expect_secret(self, path: str, secret: str) -> None:
        with self.lock:
            self.secrets[path] = secret

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    # --- the test's controls -------------------------------------------------------------

    def healthy(self) -> None:
        """Every path answers 200 at once again."""
        with self.lock:
            self.behaviour = Behaviour()
            self.by_path.clear()

    def behave(self, behaviour: Behaviour, *, path: str | None = None) -> None:
        with self.lock:
            if path is None:
                self.behaviour = behaviour
            else:
                self.by_path[path] = behaviour

    def down(self) -> None:
        """Closes the listening port: new connections are refused until `up()`."""
        self._run(self._stop_site())

    def up(self) -> None:
        self._run(self._start_site())

    def snapshot(self) -> list[Hit]:
        with self.lock:
            return list(self.hits)

    def wait_for_arrival(self, path: str, *, timeout: float) -> bool:
        """Whether a request for `path` arrived (answered or not) within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if path in self.arrivals:
                    return True
            time.sleep(0.01)
        return False

    def acknowledged(self, ref: str) -> list[Hit]:
        """The requests for the message with this payload marker that Herald got a 2xx for."""
        with self.lock:
            return [hit for hit in self.hits if hit.acknowledged and hit.ref == ref]

    # --- inside the receiver's loop ---------------------------------------------------------

    def _run(self, coroutine: Any) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(_CONTROL_TIMEOUT_SECONDS)

    async def _start_site(self) -> None:
        if self._site is not None or self._runner is None:
            return
        site = web.TCPSite(self._runner, LOCALHOST, self.port, reuse_address=True)
        await site.start()
        self._site = site
        if not self.port:
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.base_url = f"http://{LOCALHOST}:{self.port}"

    async def _stop_site(self) -> None:
        if self._site is not None:
            await self._site.stop()
            self._site = None
        if self._runner is not None and self._runner.server is not None:
            # Pooled keep-alive connections too: a receiver that is down answers nothing.
            for connection in list(self._runner.server.connections):
                connection.close()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        path = request.match_info["path"]
        with self.lock:
            behaviour = self.by_path.get(path, self.behaviour)
            status = behaviour.status
            if behaviour.fail_fraction and self.random.random() < behaviour.fail_fraction:
                status = 500
        with self.lock:
            self.arrivals.append(path)
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        transport = request.transport
        answered = transport is not None and not transport.is_closing()
        with self.lock:
            secret = self.secrets.get(path)
        hit = Hit(
            path=path,
            msg_id=request.headers.get("webhook-id", ""),
            headers=dict(request.headers),
            body=body,
            at=time.monotonic(),
            status=status,
            answered=answered,
            verified=_signature_holds(secret, body, request.headers) if secret else None,
        )
        with self.lock:
            self.hits.append(hit)
        return web.Response(status=status, text=f"answer {status}")


def _signature_holds(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, dict(headers))
    except WebhookVerificationError:
        return False
    return True


@contextmanager
def running_receiver() -> Iterator[FaultyReceiver]:
    """A receiver on its own thread and loop, so blocking test code never stalls it."""
    receiver = FaultyReceiver()
    loop = receiver._loop
    ready = threading.Event()

    async def start() -> None:
        app = web.Application()
        app.router.add_post("/{path}", receiver._handle)
        # Connections that Herald's timeouts cut must not cancel the handler: it records the hit.
        runner = web.AppRunner(app, handler_cancellation=False, shutdown_timeout=2.0, access_log=None)
        await runner.setup()
        receiver._runner = runner
        await receiver._start_site()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="faulty-receiver", daemon=True)
    thread.start()
    if not ready.wait(_CONTROL_TIMEOUT_SECONDS):
        raise RuntimeError("the receiver did not start")
    try:
        yield receiver
    finally:
        if receiver._runner is not None:
            asyncio.run_coroutine_threadsafe(receiver._runner.cleanup(), loop).result(
                _CONTROL_TIMEOUT_SECONDS
            )
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_CONTROL_TIMEOUT_SECONDS)
        loop.close()
