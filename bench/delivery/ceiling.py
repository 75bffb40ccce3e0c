"""The ceiling: a plain loop doing a durable delivery's least work, in a process of its own.

One Cosmos document per message (the same server and SDK as Herald's), then one POST per endpoint
(aiohttp). With `queue`, a Storage queue sits between the two, drained as the Functions host
drains a queue trigger. `harness.run_ceiling` starts it as `python -m bench.delivery.ceiling
<spec>`; its last line of output is the CPU its measured window cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import uuid
from typing import Any

import aiohttp

from bench.delivery.harness import (
    TRANSIENT_RETRIES,
    closed_loop,
    cosmos_client,
    cpu_seconds,
    message_body,
    queue_client,
)


async def ceiling_worker(spec: dict[str, Any]) -> None:
    """The plain loop: one Cosmos document per message, then one POST per endpoint.

    With `queue`, the message goes through a dispatch queue between the two (put, then a
    consumer's receive and delete), as a queue-triggered dispatch function would: the floor of
    that design, measured to choose between it and Herald's in-process first attempt.
    """
    from azure.cosmos import PartitionKey

    async with (
        cosmos_client() as cosmos,
        aiohttp.ClientSession() as http,
        DispatchQueue(spec, http) if spec.get("queue") else contextlib.nullcontext() as queue,
    ):
        container = None
        if spec["cosmos"]:
            database = await cosmos.create_database_if_not_exists(spec["database"])
            container = await database.create_container_if_not_exists(
                id="messages", partition_key=PartitionKey(path="/appId")
            )

        async def one(run: str) -> None:
            body = message_body(run)
            data = json.dumps(body, separators=(",", ":")).encode()
            if container is not None:
                await _create(container, {"id": body["bench_id"], "appId": "bench", "payload": body})
            if queue is not None:
                await queue.dispatch(body["bench_id"], data)
            else:
                await asyncio.gather(*(_post(http, url, data) for url in spec["urls"]))

        await closed_loop(spec["concurrency"], spec["warmup"], spec["rate"], lambda: one("warmup"))
        cpu_before, store_cpu_before = time.process_time(), cpu_seconds(spec["server_pid"])
        await closed_loop(spec["concurrency"], spec["duration"], spec["rate"], lambda: one(spec["run"]))
        # The last messages are received when the loop returns: its CPU for the run is all spent.
        cpu = {
            "cpu_seconds": time.process_time() - cpu_before,
            "store_cpu_seconds": cpu_seconds(spec["server_pid"]) - store_cpu_before,
        }
        print(json.dumps(cpu))


class DispatchQueue:
    """A Storage queue between the create and the POSTs, drained by consumers in this process."""

    # As the Functions host fetches queue messages: up to 32 at once.
    BATCH = 32
    CONSUMERS = 4

    def __init__(self, spec: dict[str, Any], http: aiohttp.ClientSession) -> None:
        self._queue = queue_client(f"bench-{uuid.uuid4().hex[:12]}")
        self._http = http
        self._urls: list[str] = spec["urls"]
        self._sent: dict[str, asyncio.Event] = {}
        self._consumers: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> DispatchQueue:
        await self._queue.create_queue()
        self._consumers = [asyncio.create_task(self._consume()) for _ in range(self.CONSUMERS)]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._consumers:
            task.cancel()
        await asyncio.gather(*self._consumers, return_exceptions=True)
        await self._queue.delete_queue()
        await self._queue.close()

    async def dispatch(self, bench_id: str, data: bytes) -> None:
        sent = self._sent[bench_id] = asyncio.Event()
        await self._queue.send_message(data.decode())
        await sent.wait()

    async def _consume(self) -> None:
        while True:
            messages = [
                message
                async for message in self._queue.receive_messages(
                    messages_per_page=self.BATCH, max_messages=self.BATCH, visibility_timeout=60
                )
            ]
            if not messages:
                # An empty queue: poll again shortly (the host backs off further when idle).
                await asyncio.sleep(0.05)
            # The host runs a fetched batch's invocations concurrently.
            await asyncio.gather(*(self._handle(message) for message in messages))

    async def _handle(self, message: Any) -> None:
        data = str(message.content).encode()
        await asyncio.gather(*(_post(self._http, url, data) for url in self._urls))
        await self._queue.delete_message(message)
        self._sent.pop(json.loads(data)["bench_id"]).set()


async def _create(container: Any, doc: dict[str, Any]) -> None:
    """One document; a timeout of the busy local server is tried again, as Herald's store would."""
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError

    for attempt in range(TRANSIENT_RETRIES + 1):
        try:
            await container.create_item(doc)
            return
        except (ServiceRequestError, ServiceResponseError):
            if attempt == TRANSIENT_RETRIES:
                raise
            print("ceiling: Cosmos timed out, trying again", file=sys.stderr)
            await asyncio.sleep(0.2 * 2**attempt)


async def _post(http: aiohttp.ClientSession, url: str, data: bytes) -> None:
    async with http.post(url, data=data, headers={"content-type": "application/json"}) as answer:
        await answer.read()


if __name__ == "__main__":
    asyncio.run(ceiling_worker(json.loads(sys.argv[1])))
