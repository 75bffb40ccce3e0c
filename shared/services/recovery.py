"""Endpoint recovery (Svix's `POST .../endpoint/{id}/recover`): resend every failed message of a window.

`start` records a background task; the workflow `endpoint_recover_v1` (`blueprints/recovery.py`)
then calls `run_batch` until it is done. Each batch resends up to `HERALD_RECOVER_BATCH_SIZE`
failed message-endpoint pairs, oldest first, one manual attempt each, and moves the task's cursor
and counts. Pairs that succeeded, even after failing, are not resent.

A batch is safe to run twice (activities run at least once): the task's cursor says which batch
it has recorded, and a batch whose cursor has moved on only reports the progress already made.
"""

from __future__ import annotations

import asyncio
from typing import Any

from shared import durable
from shared.clock import to_wire
from shared.durable import RecoveryJob, RecoveryProgress
from shared.models import BackgroundTaskStatus, BackgroundTaskType, MessageStatus, RecoverIn
from shared.services.applications import ApplicationService
from shared.services.background_tasks import BackgroundTaskService
from shared.services.endpoints import EndpointService
from shared.services.messages import DESTINATION_TYPE, MESSAGE_TYPE, payload_gone, with_content
from shared.services.resend import ManualDelivery, check_enabled
from shared.settings import HeraldSettings
from shared.store.base import MESSAGES, Doc, DocumentStore

# Requests in flight at once within a batch: a recovering receiver should not meet a stampede.
CONCURRENCY = 10


def instance_id(task: Doc) -> str:
    """The workflow of a task: one per task, so a retried request cannot start a second."""
    return durable.instance_id("rcv", task["tenantId"], task["id"])


def workflow_input(task: Doc) -> RecoveryJob:
    return RecoveryJob(tenantId=task["tenantId"], taskId=task["id"], cursor=None)


class RecoveryService:
    def __init__(
        self,
        store: DocumentStore,
        settings: HeraldSettings,
        applications: ApplicationService,
        endpoints: EndpointService,
        tasks: BackgroundTaskService,
        manual: ManualDelivery,
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
    ) -> Doc:
        """Records the recovery task (`running`); its workflow does the work."""
        app = await self._apps.get(tenant_id, app_id_or_uid)
        endpoint = await self._endpoints.get(tenant_id, app["id"], endpoint_id_or_uid)
        check_enabled(endpoint)
        scope = {
            "appId": app["id"],
            "endpointId": endpoint["id"],
            "since": to_wire(window.since),
            "until": to_wire(window.until) if window.until else None,
            "cursor": None,
            "batches": 0,
        }
        return await self._tasks.create(
            tenant_id,
            BackgroundTaskType.ENDPOINT_RECOVER,
            scope=scope,
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
        statuses = await self._resend(task, endpoint, pairs)
        done = len(pairs) < self._settings.recover_batch_size
        cursor = pairs[-1]["msgId"] if pairs else task["cursor"]
        sent = [status for status in statuses if status is not None]
        data = {
            **task["data"],
            "messagesSent": task["data"]["messagesSent"] + len(sent),
            "messagesFailed": task["data"]["messagesFailed"]
            + sum(status != MessageStatus.SUCCESS for status in sent),
        }
        status = BackgroundTaskStatus.FINISHED if done else BackgroundTaskStatus.RUNNING
        await self._tasks.update(
            task, {"status": str(status), "data": data, "cursor": cursor, "batches": task["batches"] + 1}
        )
        return {"done": done, "cursor": cursor}

    async def fail(self, job: RecoveryJob) -> None:
        """Marks a task whose workflow gave up (its batches kept failing)."""
        task = await self._tasks.find(job["tenantId"], job["taskId"])
        if task is not None and task["status"] == BackgroundTaskStatus.RUNNING:
            await self._tasks.update(task, {"status": str(BackgroundTaskStatus.FAILED)})

    async def _failed_pairs(self, task: Doc) -> list[Doc]:
        where = [
            "c.type = @type",
            "c.endpointId = @ep",
            "c.status = @fail",
            "c.timestamp >= @since",
        ]
        parameters: list[tuple[str, Any]] = [
            ("@type", DESTINATION_TYPE),
            ("@ep", task["endpointId"]),
            ("@fail", int(MessageStatus.FAIL)),
            ("@since", task["since"]),
        ]
        if task["until"]:
            where.append("c.timestamp < @until")
            parameters.append(("@until", task["until"]))
        if task["cursor"]:
            where.append("c.msgId > @cursor")
            parameters.append(("@cursor", task["cursor"]))
        return await self._store.query(
            MESSAGES,
            [task["tenantId"], task["appId"]],
            where=" AND ".join(where),
            parameters=parameters,
            order_by="c.msgId ASC",
            top=self._settings.recover_batch_size,
        )

    async def _resend(self, task: Doc, endpoint: Doc, pairs: list[Doc]) -> list[MessageStatus | None]:
        """One manual attempt per pair; None for a message gone, or its payload expunged or expired
        since (nothing sent)."""
        gate = asyncio.Semaphore(CONCURRENCY)
        pk = [task["tenantId"], task["appId"]]

        async def one(pair: Doc) -> MessageStatus | None:
            async with gate:
                message = await self._store.read(MESSAGES, pk, pair["msgId"])
                if message is None or message.get("type") != MESSAGE_TYPE:
                    return None
                message = await with_content(self._store, message)
                if payload_gone(message):
                    return None
                return await self._manual.attempt_now(message, endpoint)

        return list(await asyncio.gather(*(one(pair) for pair in pairs)))
