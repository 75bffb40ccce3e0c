"""Expunge all contents (Svix's `POST .../msg/expunge-all-contents`): every payload of an application.

`start` records a background task (`application.purge_content`); the workflow
`application_purge_content_v1` (`blueprints/messages.py`) then calls `run_batch` until it is done.
Each batch expunges up to PURGE_BATCH_SIZE messages, oldest first, among those that existed when
the task started (a steady stream of new messages cannot keep it running), and moves the task's
cursor and its `messagesPurged` count.

A batch is safe to run twice (activities run at least once): expunging is idempotent, only
payloads still there are counted, and the task's cursor says which batch it has recorded.
"""

from __future__ import annotations

import asyncio

from shared import durable
from shared.clock import to_wire, utcnow
from shared.durable import PurgeJob, PurgeProgress
from shared.models import BackgroundTaskStatus, BackgroundTaskType
from shared.services.applications import ApplicationService
from shared.services.background_tasks import BackgroundTaskService
from shared.services.messages import MessageService
from shared.store import queries
from shared.store.base import DocumentStore
from shared.store.schema import BackgroundTaskDoc, MessageHead, Owned

PURGE_BATCH_SIZE = 100
# Messages expunged at once: background work should not crowd out the message path's requests.
CONCURRENCY = 10


def instance_id(task: Owned) -> str:
    """The workflow of a task: one per task, so a retried request cannot start a second."""
    return durable.instance_id("pur", task["tenantId"], task["id"])


def workflow_input(task: Owned) -> PurgeJob:
    return PurgeJob(tenantId=task["tenantId"], taskId=task["id"], cursor=None)


class ContentPurgeService:
    def __init__(
        self,
        store: DocumentStore,
        applications: ApplicationService,
        messages: MessageService,
        tasks: BackgroundTaskService,
    ) -> None:
        self._store = store
        self._apps = applications
        self._messages = messages
        self._tasks = tasks

    async def start(
        self, tenant_id: str, app_id_or_uid: str, *, seed: str | None = None
    ) -> BackgroundTaskDoc:
        """Records the task (`running`); its workflow does the work.

        :raises NotFoundError: no such application.
        """
        app = await self._apps.get(tenant_id, app_id_or_uid)
        return await self._tasks.create(
            tenant_id,
            BackgroundTaskType.APPLICATION_PURGE_CONTENT,
            scope={"appId": app["id"], "until": to_wire(utcnow())},
            data={"messagesPurged": 0},
            seed=seed,
        )

    async def run_batch(self, job: PurgeJob) -> PurgeProgress:
        """Expunges the next batch after `job["cursor"]`; returns `{done, cursor}` for the workflow."""
        task = await self._tasks.find(job["tenantId"], job["taskId"])
        if task is None or task["status"] != BackgroundTaskStatus.RUNNING:
            return {"done": True, "cursor": job["cursor"]}
        if task["cursor"] != job["cursor"]:
            # This batch ran before and recorded its progress: carry on from there.
            return {"done": False, "cursor": task["cursor"]}
        batch = await self._next(task)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(message: MessageHead) -> bool:
            async with gate:
                return await self._messages.expunge(message)

        purged = sum(await asyncio.gather(*(one(message) for message in batch)))
        done = len(batch) < PURGE_BATCH_SIZE
        cursor = batch[-1]["id"] if batch else task["cursor"]
        data = {**task["data"], "messagesPurged": task["data"]["messagesPurged"] + purged}
        status = BackgroundTaskStatus.FINISHED if done else BackgroundTaskStatus.RUNNING
        await self._tasks.update(task, {"status": str(status), "data": data, "cursor": cursor})
        return {"done": done, "cursor": cursor}

    async def fail(self, job: PurgeJob) -> None:
        """Marks a task whose workflow gave up (its batches kept failing)."""
        await self._tasks.fail(job["tenantId"], job["taskId"])

    async def _next(self, task: BackgroundTaskDoc) -> list[MessageHead]:
        # Only what expunging needs of each message: never its payload (up to 1 MiB each).
        return await queries.message_heads_up_to(
            self._store,
            task["tenantId"],
            task["appId"],
            task.get("until"),
            after=task["cursor"],
            limit=PURGE_BATCH_SIZE,
        )
