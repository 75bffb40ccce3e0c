"""Replays (Svix's `replay-missing` and `bulk-replay`): messages sent to an endpoint again, or at last.

`replay-missing` (task `endpoint.replay`) sends the endpoint the application's messages of a window
that it should have received but was never sent: created before the endpoint existed, or filtered
out then (its event types or channels have changed since). `bulk-replay` (task
`endpoint.bulk-replay`) sends again the window's messages that were sent to the endpoint, whatever
became of them, narrowed by the request's filters.

Each message goes out as one manual attempt, as in recovery (`recovery.py`), and neither kind
resends a message whose payload is gone (expunged). A missing message becomes one of the
endpoint's: it is attempted first, then the message lists the endpoint, so its status and attempts
read like any other's, and a batch that runs again skips it. A message still waiting for its
`deliverAt` is not missing yet: it is skipped.

Both run as the workflow `endpoint_replay_v1` (`blueprints/replay.py`), one batch of
`HERALD_RECOVER_BATCH_SIZE` per execution; the task's cursor makes a batch safe to run twice.
"""

from __future__ import annotations

import asyncio
from enum import IntEnum

from shared import durable
from shared.clock import to_wire, utcnow
from shared.durable import RecoveryJob, RecoveryProgress
from shared.models import (
    BackgroundTaskStatus,
    BackgroundTaskType,
    BulkReplayIn,
    MessageStatus,
    ReplayIn,
    ReplayOut,
)
from shared.services.applications import ApplicationService
from shared.services.background_tasks import BackgroundTaskService
from shared.services.endpoints import EndpointService
from shared.services.messages import matches
from shared.services.recovery import CONCURRENCY, counted, endpoint_scope
from shared.services.resend import ManualAttempts, check_enabled
from shared.settings import HeraldSettings
from shared.store import queries
from shared.store.base import MESSAGES, DocumentStore
from shared.store.queries import MessageFilter, Window
from shared.store.schema import (
    MESSAGE,
    AttemptAnswer,
    BackgroundTaskChanges,
    BackgroundTaskDoc,
    EndpointDoc,
    MessageDoc,
    Owned,
    app_key,
    key_of,
)

# What a batch did: the cursor after it (None when it was the last), and each attempt's status
# (None for a message with nothing left to send).
Batch = tuple[str | None, list[MessageStatus | None]]


def to_out(task: BackgroundTaskDoc) -> ReplayOut:
    return ReplayOut.model_validate(task)


def instance_id(task: Owned) -> str:
    """The workflow of a task: one per task, so a retried request cannot start a second."""
    return durable.instance_id("rpl", task["tenantId"], task["id"])


def workflow_input(task: Owned) -> RecoveryJob:
    return RecoveryJob(tenantId=task["tenantId"], taskId=task["id"], cursor=None)


def _window(task: BackgroundTaskDoc) -> Window:
    """The messages a task replays: those stored in `[since, until)`."""
    return Window(task.get("since"), task.get("until"))


def _number(value: IntEnum | None) -> int | None:
    return None if value is None else int(value)


def _status_class(attempt: AttemptAnswer) -> int:
    return int(attempt["responseStatusCode"]) // 100 * 100


class ReplayService:
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
        window: ReplayIn,
        *,
        seed: str | None = None,
    ) -> BackgroundTaskDoc:
        """Records the task (`running`): a bulk replay for a `BulkReplayIn`, else replay-missing.

        :raises NotFoundError: no such application or endpoint.
        :raises BadRequestError: the endpoint is disabled.
        """
        app = await self._apps.get(tenant_id, app_id_or_uid)
        endpoint = await self._endpoints.get(tenant_id, app["id"], endpoint_id_or_uid)
        check_enabled(endpoint)
        scope = endpoint_scope(endpoint, window)
        kind = BackgroundTaskType.ENDPOINT_REPLAY
        if isinstance(window, BulkReplayIn):
            kind = BackgroundTaskType.ENDPOINT_BULK_REPLAY
            scope["filters"] = {
                "eventTypes": sorted(set(window.event_types)) if window.event_types else None,
                "channel": window.channel,
                "tag": window.tag,
                "status": _number(window.status),
                "statusCodeClass": _number(window.status_code_class),
            }
        return await self._tasks.create(
            tenant_id, kind, scope=scope, data={"messagesSent": 0, "messagesFailed": 0}, seed=seed
        )

    async def run_batch(self, job: RecoveryJob) -> RecoveryProgress:
        """Sends the next batch after `job["cursor"]`; returns `{done, cursor}` for the workflow."""
        task = await self._tasks.find(job["tenantId"], job["taskId"])
        if task is None or task["status"] != BackgroundTaskStatus.RUNNING:
            return {"done": True, "cursor": job["cursor"]}
        if task["cursor"] != job["cursor"]:
            # This batch ran before and recorded its progress: carry on from there.
            return {"done": False, "cursor": task["cursor"]}
        endpoint = await self._endpoints.find(task["tenantId"], task["appId"], task["endpointId"])
        if endpoint is None or endpoint.get("disabled"):
            # Deleted or disabled meanwhile: nothing more can be sent.
            await self._tasks.update(task, {"status": str(BackgroundTaskStatus.FAILED)})
            return {"done": True, "cursor": task["cursor"]}
        if task["task"] == BackgroundTaskType.ENDPOINT_BULK_REPLAY:
            cursor, statuses = await self._replay_sent(task, endpoint)
        else:
            cursor, statuses = await self._replay_missing(task, endpoint)
        done = cursor is None
        data = counted(task["data"], statuses)
        status = BackgroundTaskStatus.FINISHED if done else BackgroundTaskStatus.RUNNING
        cursor = cursor or task["cursor"]
        changes: BackgroundTaskChanges = {
            "status": str(status),
            "data": data,
            "cursor": cursor,
            "batches": task["batches"] + 1,
        }
        await self._tasks.update(task, changes)
        return {"done": done, "cursor": cursor}

    async def fail(self, job: RecoveryJob) -> None:
        """Marks a task whose workflow gave up (its batches kept failing)."""
        await self._tasks.fail(job["tenantId"], job["taskId"])

    async def _replay_missing(self, task: BackgroundTaskDoc, endpoint: EndpointDoc) -> Batch:
        """One batch of the window's messages that do not list the endpoint."""
        messages = await queries.messages_missing_endpoint(
            self._store,
            task["tenantId"],
            task["appId"],
            endpoint["id"],
            _window(task),
            after=task["cursor"],
            limit=self._settings.recover_batch_size,
        )
        now = to_wire(utcnow())
        wanted = [
            message
            for message in messages
            if matches(endpoint, message["eventType"], message.get("channels"))
            and (message.get("deliverAt") or "") <= now
        ]
        statuses = await self._send(endpoint, wanted, adopt=True)
        return self._next_cursor([message["id"] for message in messages]), statuses

    async def _replay_sent(self, task: BackgroundTaskDoc, endpoint: EndpointDoc) -> Batch:
        """One batch of the endpoint's message-endpoint pairs in the window that pass the filters."""
        filters = task["filters"]
        pairs = await queries.destinations_of_endpoint(
            self._store,
            task["tenantId"],
            task["appId"],
            endpoint["id"],
            _window(task),
            after=task["cursor"],
            limit=self._settings.recover_batch_size,
            status=filters["status"],
            wanted=MessageFilter(
                channel=filters["channel"] or None,
                tag=filters["tag"] or None,
                event_types=tuple(filters["eventTypes"]) if filters["eventTypes"] else None,
            ),
        )
        chosen = pairs
        if filters["statusCodeClass"] is not None:
            classes = await self._last_status_classes(task, endpoint, [pair["msgId"] for pair in pairs])
            chosen = [pair for pair in pairs if classes.get(pair["msgId"]) == filters["statusCodeClass"]]
        pk = app_key(task["tenantId"], task["appId"])
        messages = await asyncio.gather(
            *(queries.read(self._store, MESSAGE, pk, pair["msgId"]) for pair in chosen)
        )
        # A message gone since (retention) has nothing left to send.
        found = [message for message in messages if message is not None]
        statuses = await self._send(endpoint, found, adopt=False)
        return self._next_cursor([pair["msgId"] for pair in pairs]), statuses

    def _next_cursor(self, keys: list[str]) -> str | None:
        """Where the next batch starts (after the last key read); None after a short batch."""
        if len(keys) < self._settings.recover_batch_size:
            return None
        return keys[-1]

    async def _last_status_classes(
        self, task: BackgroundTaskDoc, endpoint: EndpointDoc, msg_ids: list[str]
    ) -> dict[str, int]:
        """The status-code class of each message's latest attempt to the endpoint (none: not attempted)."""
        attempts = await queries.attempt_answers(
            self._store, task["tenantId"], task["appId"], endpoint["id"], msg_ids
        )
        latest: dict[str, AttemptAnswer] = {}
        # Attempt ids sort by creation time.
        for attempt in sorted(attempts, key=lambda attempt: attempt["id"]):
            latest[attempt["msgId"]] = attempt
        return {msg_id: _status_class(attempt) for msg_id, attempt in latest.items()}

    async def _send(
        self, endpoint: EndpointDoc, messages: list[MessageDoc], *, adopt: bool
    ) -> list[MessageStatus | None]:
        """One manual attempt per message; None for an expunged one (nothing sent).

        `adopt`: the message then lists the endpoint as one of its own. After the attempt, not
        before: a batch interrupted in between sends the message again rather than never.
        """
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(message: MessageDoc) -> MessageStatus | None:
            if message.get("expunged"):
                return None
            async with gate:
                status = await self._manual.attempt_now(message, endpoint)
                if adopt:
                    await self._store.patch(
                        MESSAGES,
                        key_of(message),
                        message["id"],
                        [{"op": "add", "path": "/endpointIds/-", "value": endpoint["id"]}],
                    )
            return status

        return list(await asyncio.gather(*(one(message) for message in messages)))
