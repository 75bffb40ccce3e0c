"""Webhook receivers for tests: real HTTP servers on loopback, each path with a script of answers."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """Answers each path with its scripted statuses in turn (the last one repeats); 200 by default."""

    base_url: str = ""
    scripts: dict[str, list[int]] = field(default_factory=dict)
    seen: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str, *answers: int) -> str:
        if answers:
            self.scripts[path] = list(answers)
        return f"{self.base_url}/{path}"

    def requests(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.seen if r.path == path]

    def wait_for(self, path: str, count: int, *, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.requests(path)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{path}: {len(self.requests(path))} requests, expected {count}")

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        body = await request.read()
        with self.lock:
            self.seen.append(Received(path, dict(request.headers), body, time.monotonic()))
            script = self.scripts.get(path, [200])
            status = script.pop(0) if len(script) > 1 else script[0]
        return web.Response(status=status, text=f"answer {status}")


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    """A receiver on its own thread and loop, so blocking test code never stalls it."""
    receiver = Receiver()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner_box: list[web.AppRunner] = []

    async def start() -> None:
        app = web.Application()
        app.router.add_post("/{path}", receiver._handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        receiver.base_url = f"http://127.0.0.1:{port}"
        runner_box.append(runner)
        ready.set()

    thread = threading.Thread(
        target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True
    )
    thread.start()
    assert ready.wait(10), "receiver did not start"
    try:
        yield receiver
    finally:
        asyncio.run_coroutine_threadsafe(runner_box[0].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
