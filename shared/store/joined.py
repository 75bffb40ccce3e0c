"""Group commit: concurrent batches for one partition written as one batch.

Accepting a message is one batch and recording its first round another; under load many of each
are in flight for the same application at once. `JoinedBatches.create_batch` has the store's
meaning (all of the caller's documents or none, `BatchFailedError` with an index into the
caller's own documents), but one batch per partition is in flight at a time: the batches that
arrive meanwhile queue up, and the next writer of the partition sends all of them as one (up to
BATCH_LIMIT documents; a caller's documents are never split). Each caller waits for at most two
requests. There is no timer: an idle partition adds no latency.

A joint batch that fails (one caller's document collides) was written not at all, so each of its
callers' batches is then sent alone, and only the caller whose documents collide gets the error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.errors import ServiceUnavailableError
from shared.store.base import BatchFailedError, DocumentStore, PartitionKey

# Cosmos takes at most 100 operations in one transactional batch.
BATCH_LIMIT = 100


@dataclass(eq=False)
class _Batch:
    docs: Sequence[Mapping[str, Any]]
    done: asyncio.Future[None]


@dataclass
class _Partition:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    queue: list[_Batch] = field(default_factory=list)
    # Callers inside `create_batch` for this partition: it is forgotten when the last one leaves.
    users: int = 0


class JoinedBatches:
    def __init__(self, store: DocumentStore) -> None:
        self._store = store
        self._partitions: dict[tuple[str, ...], _Partition] = {}

    async def create_batch(self, container: str, pk: PartitionKey, docs: Sequence[Mapping[str, Any]]) -> None:
        if len(docs) > BATCH_LIMIT:
            raise ValueError(f"a batch takes at most {BATCH_LIMIT} documents")
        key = (container, *pk)
        partition = self._partitions.setdefault(key, _Partition())
        batch = _Batch(docs, asyncio.get_running_loop().create_future())
        partition.queue.append(batch)
        partition.users += 1
        try:
            async with partition.lock:
                while not batch.done.done():
                    await self._send(container, pk, _take(partition.queue))
        finally:
            if batch in partition.queue:
                # Cancelled before its turn: nobody sends it now.
                partition.queue.remove(batch)
            partition.users -= 1
            if not partition.users:
                del self._partitions[key]
        await batch.done

    async def _send(self, container: str, pk: PartitionKey, batches: list[_Batch]) -> None:
        try:
            if len(batches) == 1:
                await self._alone(container, pk, batches[0])
                return
            joint = [doc for batch in batches for doc in batch.docs]
            try:
                await self._store.create_batch(container, pk, joint)
            except BatchFailedError:
                for batch in batches:
                    await self._alone(container, pk, batch)
                return
        except Exception as exc:
            _fail(batches, exc)
            return
        except BaseException:
            # Cancelled mid-request: its callers fail rather than wait for good.
            _fail(batches, ServiceUnavailableError("The write was interrupted; retry."))
            raise
        for batch in batches:
            batch.done.set_result(None)

    async def _alone(self, container: str, pk: PartitionKey, batch: _Batch) -> None:
        try:
            await self._store.create_batch(container, pk, batch.docs)
        except BatchFailedError as exc:
            batch.done.set_exception(exc)
        else:
            batch.done.set_result(None)


def _fail(batches: list[_Batch], error: Exception) -> None:
    for batch in batches:
        if not batch.done.done():
            batch.done.set_exception(error)


def _take(queue: list[_Batch]) -> list[_Batch]:
    """Whole batches from the front of `queue`, up to one request's worth (at least one)."""
    taken = [queue.pop(0)]
    size = len(taken[0].docs)
    while queue and size + len(queue[0].docs) <= BATCH_LIMIT:
        size += len(queue[0].docs)
        taken.append(queue.pop(0))
    return taken
