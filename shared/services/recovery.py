"""Endpoint recovery (Svix's `POST .../endpoint/{id}/recover`): resend every failed message of a window.

`start` records a background task; the workflow `endpoint_recover_v1` (`blueprints/recovery.py`)
then calls `run_batch` until it is done. Each batch resends up to `HERALD_RECOVER_BATCH_SIZE`
failed message-endpoint pairs, oldest first, one manual attempt each, and moves the task's cursor
and counts. Pairs that succeeded, even after failing, are not resent.

A batch is safe to run twice (activities run at least once): the task's cursor says which batch
it has recorded, and a batch whose cursor has moved on only reports the progress already made.

A batch never waits in its activity for the endpoint's throttle or the tenant's outbound share:
its requests are let through in message order, and at the first one that is not, the batch stops
there (its cursor says so) and tells the workflow how long to wait, on a durable timer, before the
next batch. Such a request is not made, so it is neither resent nor counted.

At most one recovery of an endpoint runs at a time: a guard document per endpoint names the task
that holds it, and a second `recover` while that task runs answers 409 `recovery_in_progress`
naming it. The guard counts while its task is `running` (and has moved within
`STALE_AFTER_SECONDS`: a task whose workflow died no longer holds it), or for a few seconds while
the task's own create is in flight.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shared import durable, ids
from shared.clock import from_wire, to_wire, utcnow
from shared.delivery.lanes import Slot
from shared.durable import RecoveryJob, RecoveryProgress
from shared.errors import ConflictError, OutboundBusyError
from shared.models import BackgroundTaskStatus, BackgroundTaskType, MessageStatus, RecoverIn
from shared.services.applications import ApplicationService
from shared.services.background_tasks import BackgroundTaskService
from shared.services.endpoints import EndpointService
from shared.services.messages import payload_gone, with_content
from shared.services.resend import ManualAttempts, check_enabled
from shared.settings import HeraldSettings
from shared.store import queries
from shared.store.base import APPLICATIONS, DocumentExistsError, DocumentStore, EtagMismatchError
from shared.store.queries import Window
from shared.store.schema import (
    MESSAGE,
    RECOVERY_GUARD,
    RECOVERY_GUARD_TYPE,
    BackgroundTaskDoc,
    DestinationDoc,
    EndpointDoc,
    MessageDoc,
    Owned,
    RecoveryGuardDoc,
    TaskScope,
    app_key,
    etag,
    new_background_task_id,
    recovery_guard_id,
    tenant_key,
)

# Requests in flight at once within a batch: a recovering receiver should not meet a stampede.
CONCURRENCY = 10
# A running task not moved on for this long has lost its workflow: it no longer holds its endpoint.
# (A batch takes at most HERALD_RECOVER_BATCH_SIZE / CONCURRENCY request timeouts, minutes.)
STALE_AFTER_SECONDS = 3600
# A guard whose task does not exist yet is a start in flight for this long.
IN_FLIGHT_SECONDS = 30


def endpoint_scope(endpoint: EndpointDoc, window: RecoverIn) -> TaskScope:
    """What a task that sends the messages of a window to one endpoint keeps: a recovery's, a
    replay's (`replay.py`)."""
    return {
        "appId": endpoint["appId"],
        "endpointId": endpoint["id"],
        "since": to_wire(window.since),
        "until": to_wire(window.until) if window.until else None,
        "batches": 0,
    }


def counted(data: dict[str, Any], statuses: list[MessageStatus | None]) -> dict[str, Any]:
    """A recovery's or a replay's `data` after a batch: Svix's `messagesSent` and `messagesFailed`,
    given each attempt's status (None: nothing was sent)."""
    sent = [status for status in statuses if status is not None]
    return {
        **data,
        "messagesSent": data["messagesSent"] + len(sent),
        "messagesFailed": data["messagesFailed"] + sum(status != MessageStatus.SUCCESS for status in sent),
    }


@dataclass(frozen=True)
class Resent:
    """What a batch resent: a status per pair let through (None: message gone, nothing sent), in
    order, and, when the rest was put off, the seconds until the next batch may try."""

    statuses: list[MessageStatus | None]
    retry_in: float | None = None


def instance_id(task: Owned) -> str:
    """The workflow of a task: one per task, so a retried request cannot start a second."""
    return durable.instance_id("rcv", task["tenantId"], task["id"])


def workflow_input(task: Owned) -> RecoveryJob:
    return RecoveryJob(tenantId=task["tenantId"], taskId=task["id"], cursor=None)


class RecoveryService:
    def __init__(
        self,
        store: DocumentStore,
        settings: HeraldSettings,
        applications: ApplicationService,
        endpoints: EndpointService,
        tasks: BackgroundTaskService,
        manual: ManualAttempts,
    ) -> None:
        self._store = store
        self._settings = settings
        self._apps = applications
        self._endpoints = endpoints
        self._tasks = tasks
        self._manual = manual

    async def start(
        self,
        tenant_id: str,
        app_id_or_uid: str,
        endpoint_id_or_uid: str,
        window: RecoverIn,
        *,
        seed: str | None = None,
    ) -> BackgroundTaskDoc:
        """Records the recovery task (`running`); its workflow does the work.

        :raises ConflictError: another recovery of the endpoint is running (`recovery_in_progress`).
        """
        app = await self._apps.get(tenant_id, app_id_or_uid)
        endpoint = await self._endpoints.get(tenant_id, app["id"], endpoint_id_or_uid)
        check_enabled(endpoint)
        # The task's id is known before it is written, so the guard can name it first.
        seed = seed or ids.new_seed()
        await self._hold(tenant_id, endpoint["id"], new_background_task_id(seed))
        return await self._tasks.create(
            tenant_id,
            BackgroundTaskType.ENDPOINT_RECOVER,
            scope=endpoint_scope(endpoint, window),
            data={"messagesSent": 0, "messagesFailed": 0},
            seed=seed,
        )

    async def run_batch(self, job: RecoveryJob) -> RecoveryProgress:
        """Resends the next batch after `job["cursor"]`; returns `{done, cursor}` for the workflow."""
        task = await self._tasks.find(job["tenantId"], job["taskId"])
        if task is None or task["status"] != BackgroundTaskStatus.RUNNING:
            return {"done": True, "cursor": job["cursor"]}
        if task["cursor"] != job["cursor"]:
            # This batch ran before and recorded its progress: carry on from there.
            return {"done": False, "cursor": task["cursor"]}
        endpoint = await self._endpoints.find(task["tenantId"], task["appId"], task["endpointId"])
        if endpoint is None or endpoint.get("disabled"):
            # Deleted or disabled meanwhile (a 410 during recovery, say): nothing more can be sent.
            await self._tasks.update(task, {"status": str(BackgroundTaskStatus.FAILED)})
            return {"done": True, "cursor": task["cursor"]}
        pairs = await self._failed_pairs(task)
        resent = await self._resend(task, endpoint, pairs)
        # The pairs let through are a prefix of the batch: the cursor stops at its end.
        handled = pairs[: len(resent.statuses)]
        done = resent.retry_in is None and len(pairs) < self._settings.recover_batch_size
        cursor = handled[-1]["msgId"] if handled else task["cursor"]
        data = counted(task["data"], resent.statuses)
        status = BackgroundTaskStatus.FINISHED if done else BackgroundTaskStatus.RUNNING
        await self._tasks.update(
            task,
            {"status": str(status), "data": data, "cursor": cursor, "batches": task["batches"] + 1},
        )
        return {"done": done, "cursor": cursor, "retryIn": resent.retry_in}

    async def fail(self, job: RecoveryJob) -> None:
        """Marks a task whose workflow gave up (its batches kept failing)."""
        await self._tasks.fail(job["tenantId"], job["taskId"])

    async def _failed_pairs(self, task: BackgroundTaskDoc) -> list[DestinationDoc]:
        return await queries.destinations_of_endpoint(
            self._store,
            task["tenantId"],
            task["appId"],
            task["endpointId"],
            Window(task.get("since"), task.get("until")),
            after=task["cursor"],
            limit=self._settings.recover_batch_size,
            status=int(MessageStatus.FAIL),
        )

    async def _resend(
        self, task: BackgroundTaskDoc, endpoint: EndpointDoc, pairs: list[DestinationDoc]
    ) -> Resent:
        """One manual attempt per pair, up to CONCURRENCY at once, let through in message order.

        Stops letting requests through at the first the throttle or the outbound lanes hold back:
        the statuses returned are those of a prefix of `pairs`. None for a message gone, or its
        payload expunged or expired since (nothing sent).
        """
        pk = app_key(task["tenantId"], task["appId"])
        read = await asyncio.gather(
            *(queries.read(self._store, MESSAGE, pk, pair["msgId"]) for pair in pairs)
        )
        # A payload kept apart (a payload retention shorter than the message's) comes with it.
        messages = [None if doc is None else await with_content(self._store, doc) for doc in read]
        gate = asyncio.Semaphore(CONCURRENCY)
        results: list[asyncio.Task[MessageStatus] | None] = []
        slots: list[Slot] = []
        retry_in: float | None = None

        async def one(message: MessageDoc, slot: Slot) -> MessageStatus:
            try:
                return await self._manual.attempt_now(message, endpoint, slot=slot)
            finally:
                gate.release()

        try:
            async with asyncio.TaskGroup() as group:
                for message in messages:
                    if message is None or payload_gone(message):
                        results.append(None)
                        continue
                    await gate.acquire()
                    try:
                        # No waiting for a throttle token in an activity: the workflow waits instead.
                        slots.append(await self._manual.let_through(endpoint, throttle_wait=0))
                    except OutboundBusyError as busy:
                        # A busy outbound share waits as a scheduled attempt would: the floor.
                        retry_in = busy.retry_after if busy.throttled else self._settings.retry_floor_seconds
                        break
                    results.append(group.create_task(one(message, slots[-1])))
        finally:
            # A task canceled before it ran never released its slot (release is idempotent).
            for slot in slots:
                slot.release()
        return Resent([None if result is None else result.result() for result in results], retry_in)

    async def _hold(self, tenant_id: str, endpoint_id: str, task_id: str) -> None:
        """Makes `task_id` the endpoint's one running recovery, or refuses with 409."""
        guard: RecoveryGuardDoc = {
            "id": recovery_guard_id(endpoint_id),
            "type": RECOVERY_GUARD_TYPE,
            "tenantId": tenant_id,
            "endpointId": endpoint_id,
            "taskId": task_id,
            "createdAt": to_wire(utcnow()),
            "ttl": self._settings.retention_days * 86400,
        }
        try:
            await self._store.create(APPLICATIONS, guard)
            return
        except DocumentExistsError:
            pass
        existing = await queries.read(self._store, RECOVERY_GUARD, tenant_key(tenant_id), guard["id"])
        if existing is not None and existing["taskId"] == task_id:
            # A retried request whose first try took the guard.
            return
        if existing is not None and await self._holds(existing):
            raise ConflictError(
                f"A recovery of this endpoint is already running (background task {existing['taskId']}).",
                code="recovery_in_progress",
            )
        try:
            if existing is None:
                await self._store.create(APPLICATIONS, guard)
            else:
                await self._store.replace(APPLICATIONS, guard, etag=etag(existing))
        except (DocumentExistsError, EtagMismatchError):
            # Another start took it between the read and the write: that one runs.
            raise ConflictError(
                "A recovery of this endpoint is already starting.", code="recovery_in_progress"
            ) from None

    async def _holds(self, guard: RecoveryGuardDoc) -> bool:
        task = await self._tasks.find(guard["tenantId"], guard["taskId"])
        now = utcnow()
        if task is None:
            return from_wire(guard["createdAt"]) > now - timedelta(seconds=IN_FLIGHT_SECONDS)
        fresh = from_wire(task["updatedAt"]) > now - timedelta(seconds=STALE_AFTER_SECONDS)
        return task["status"] == BackgroundTaskStatus.RUNNING and fresh
