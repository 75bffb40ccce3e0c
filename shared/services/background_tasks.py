"""Background tasks (Svix's `/background-task`): long-running work a request started, and its progress.

A task is one document in the `applications` container (partition `[tenantId]`, type
`background-task`, id `qtask_…`), expiring HERALD_RETENTION_DAYS after its last change. `data` is
what callers see (Svix's shape, e.g. `messagesSent`); the fields beside it belong to the workflow
that runs the task (its scope and its cursor).

A task that ends (`finished` or `failed`) is announced as Svix's `background_task.finished`
operational event, whatever its kind: `update` sends it once the task document says so.

An app portal token sees only its application's tasks (`app_id`): those whose scope names that
application (recoveries, replays, content purges); a tenant-wide task (usage statistics) or
another application's is, to it, a task that does not exist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.clock import to_wire, utcnow
from shared.errors import NotFoundError, PreconditionFailedError, ValidationFailedError
from shared.models import BackgroundTaskOut, BackgroundTaskStatus, BackgroundTaskType, RecoverOut
from shared.pagination import ListParams
from shared.store import queries
from shared.store.base import APPLICATIONS, DocumentExistsError, DocumentStore, EtagMismatchError
from shared.store.schema import (
    BACKGROUND_TASK,
    BACKGROUND_TASK_TYPE,
    BackgroundTaskChanges,
    BackgroundTaskDoc,
    TaskScope,
    etag,
    new_background_task_id,
    tenant_key,
)

if TYPE_CHECKING:
    from shared.services.delivery import EventSink

FINISHED_EVENT = "background_task.finished"


def to_out(doc: BackgroundTaskDoc) -> BackgroundTaskOut:
    return BackgroundTaskOut.model_validate(doc)


def recover_out(doc: BackgroundTaskDoc) -> RecoverOut:
    return RecoverOut.model_validate(doc)


def _choice(kind: type[BackgroundTaskStatus] | type[BackgroundTaskType], name: str, value: str) -> str:
    try:
        return str(kind(value))
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ValidationFailedError.single(["query", name], f"{name} must be one of: {allowed}") from None


class BackgroundTaskService:
    def __init__(self, store: DocumentStore, *, retention_days: int, events: EventSink | None = None) -> None:
        self._store = store
        self._events = events
        # A task is kept as long as the messages it worked on, counted from its last change
        # (Cosmos counts `ttl` from the last write), then expires.
        self._ttl = retention_days * 86400

    async def create(
        self,
        tenant_id: str,
        task: BackgroundTaskType,
        *,
        scope: TaskScope,
        data: dict[str, Any],
        seed: str | None = None,
    ) -> BackgroundTaskDoc:
        """A new `running` task; a retried request (same seed) gets the task its first try made."""
        now = to_wire(utcnow())
        doc: BackgroundTaskDoc = {
            "id": new_background_task_id(seed),
            "type": BACKGROUND_TASK_TYPE,
            "tenantId": tenant_id,
            "task": str(task),
            "status": str(BackgroundTaskStatus.RUNNING),
            "data": data,
            **scope,
            "cursor": None,
            "createdAt": now,
            "updatedAt": now,
            "ttl": self._ttl,
        }
        try:
            return await self._store.create(APPLICATIONS, doc)
        except DocumentExistsError:
            return await self.read(tenant_id, doc["id"])

    async def find(self, tenant_id: str, task_id: str) -> BackgroundTaskDoc | None:
        return await queries.read(self._store, BACKGROUND_TASK, tenant_key(tenant_id), task_id)

    async def read(self, tenant_id: str, task_id: str) -> BackgroundTaskDoc:
        doc = await self.find(tenant_id, task_id)
        if doc is None:
            raise NotFoundError("Background task not found.")
        return doc

    async def get(self, tenant_id: str, task_id: str, *, app_id: str | None = None) -> BackgroundTaskOut:
        """The task; with `app_id`, only a task of that application.

        :raises NotFoundError: no such task (of that application).
        """
        doc = await self.read(tenant_id, task_id)
        if app_id is not None and doc.get("appId") != app_id:
            raise NotFoundError("Background task not found.")
        return to_out(doc)

    async def list_page(
        self,
        tenant_id: str,
        params: ListParams,
        *,
        status: str | None,
        task: str | None,
        app_id: str | None = None,
    ) -> dict[str, Any]:
        """A page of the tenant's tasks; with `app_id`, of that application's only."""
        page = await queries.background_tasks_page(
            self._store,
            tenant_id,
            params,
            status=_choice(BackgroundTaskStatus, "status", status) if status else None,
            task=_choice(BackgroundTaskType, "task", task) if task else None,
            app_id=app_id,
        )
        return page.to_wire([to_out(doc) for doc in page.items])

    async def fail(self, tenant_id: str, task_id: str) -> None:
        """Marks a task `failed` whose workflow gave up (its batches kept failing), unless it ended."""
        task = await self.find(tenant_id, task_id)
        if task is not None and task["status"] == BackgroundTaskStatus.RUNNING:
            await self.update(task, {"status": str(BackgroundTaskStatus.FAILED)})

    async def update(self, doc: BackgroundTaskDoc, changes: BackgroundTaskChanges) -> BackgroundTaskDoc:
        """Moves a task on; only its own workflow writes it, so a lost race means a duplicate run.

        The change that ends a running task announces it (`background_task.finished`).
        """
        updated: BackgroundTaskDoc = {**doc, **changes, "updatedAt": to_wire(utcnow())}
        try:
            stored = await self._store.replace(APPLICATIONS, updated, etag=etag(doc))
        except EtagMismatchError:
            raise PreconditionFailedError("The background task changed meanwhile.") from None
        ended = stored["status"] != BackgroundTaskStatus.RUNNING
        if ended and doc["status"] == BackgroundTaskStatus.RUNNING and self._events is not None:
            out = to_out(stored)
            await self._events.emit(
                stored["tenantId"],
                FINISHED_EVENT,
                {"taskId": out.id, "task": out.task, "status": out.status, "data": out.data},
            )
        return stored
