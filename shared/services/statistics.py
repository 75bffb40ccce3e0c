"""Usage statistics (Svix's `statistics.aggregate_app_stats` and `aggregate_event_types`).

Each request records a background task; the workflow `usage_stats_v1` (`blueprints/statistics.py`)
then calls `run_batch` until it is done. A batch covers the next `BATCH_SIZE` applications of the
tenant (by id) and appends their figures to the task's `data`, in Svix's shapes:

- `application.stats`: `{"appStats": [{"appId", "appUid", "messageDestinations"}]}`, the
  message-endpoint pairs of the messages created in `[since, until)`, per application (every
  application `appIds` named, or else every application that had any);
- `event-type.aggregate`: `{"event_types": [{"appId", "explicitlySubscribedEventTypes",
  "hasCatchAllEndpoint"}]}`, the event types an application's endpoints filter on, and whether
  one of them takes every type, for each application that has endpoints.

Everything is computed from what is stored (messages list the endpoints they are for): the
message path writes nothing for it. A batch is safe to run twice, as recovery's are: the task's
cursor says which batch it has recorded.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from shared import durable
from shared.durable import StatsJob, StatsProgress
from shared.errors import ValidationFailedError
from shared.models import AppUsageStatsIn, AppUsageStatsOut, BackgroundTaskStatus, BackgroundTaskType
from shared.services.applications import ApplicationService
from shared.services.background_tasks import BackgroundTaskService
from shared.services.endpoints import EndpointService
from shared.store import queries
from shared.store.base import DocumentStore
from shared.store.queries import Window
from shared.store.schema import AppHead, ApplicationDoc, BackgroundTaskDoc, Owned, TaskScope

BATCH_SIZE = 50
# Queries in flight at once within a batch.
CONCURRENCY = 10


def instance_id(task: Owned) -> str:
    """The workflow of a task: one per task, so a retried request cannot start a second."""
    return durable.instance_id("sts", task["tenantId"], task["id"])


def workflow_input(task: Owned) -> StatsJob:
    return StatsJob(tenantId=task["tenantId"], taskId=task["id"], cursor=None)


def app_stats_out(task: BackgroundTaskDoc) -> AppUsageStatsOut:
    return AppUsageStatsOut.model_validate(task)


def _bound(moment: datetime) -> str:
    # Stored timestamps carry microseconds (unless they are zero): so do the bounds, so that
    # strings compare as the times do.
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class StatisticsService:
    def __init__(
        self,
        store: DocumentStore,
        applications: ApplicationService,
        endpoints: EndpointService,
        tasks: BackgroundTaskService,
    ) -> None:
        self._store = store
        self._apps = applications
        self._endpoints = endpoints
        self._tasks = tasks

    async def start_app_stats(
        self, tenant_id: str, data: AppUsageStatsIn, *, seed: str | None = None
    ) -> BackgroundTaskDoc:
        """Records an `application.stats` task (`running`); its workflow counts.

        :raises ValidationFailedError: `appIds` named applications and none of them exists.
        """
        named = list(dict.fromkeys(data.app_ids or []))
        gate = asyncio.Semaphore(CONCURRENCY)

        async def find(id_or_uid: str) -> ApplicationDoc | None:
            async with gate:
                return await self._apps.find(tenant_id, id_or_uid)

        found = await asyncio.gather(*(find(name) for name in named))
        apps: dict[str, AppHead] = {
            doc["id"]: {"id": doc["id"], "uid": doc.get("uid")} for doc in found if doc is not None
        }
        if named and not apps:
            raise ValidationFailedError.single(["body", "appIds"], "none of these is an application")
        scope: TaskScope = {
            "since": _bound(data.since),
            "until": _bound(data.until),
            # None: every application of the tenant.
            "apps": sorted(apps.values(), key=lambda app: app["id"]) if named else None,
            "unresolvedAppIds": [name for name, doc in zip(named, found, strict=True) if doc is None],
        }
        return await self._tasks.create(
            tenant_id, BackgroundTaskType.APPLICATION_STATS, scope=scope, data={"appStats": []}, seed=seed
        )

    async def start_event_types(self, tenant_id: str) -> BackgroundTaskDoc:
        """Records an `event-type.aggregate` task (`running`); its workflow aggregates."""
        return await self._tasks.create(
            tenant_id, BackgroundTaskType.EVENT_TYPE_AGGREGATE, scope={}, data={"event_types": []}
        )

    async def run_batch(self, job: StatsJob) -> StatsProgress:
        """Counts the next batch of applications after `job["cursor"]`; returns `{done, cursor}`."""
        task = await self._tasks.find(job["tenantId"], job["taskId"])
        if task is None or task["status"] != BackgroundTaskStatus.RUNNING:
            return {"done": True, "cursor": job["cursor"]}
        if task["cursor"] != job["cursor"]:
            # This batch ran before and recorded its progress: carry on from there.
            return {"done": False, "cursor": task["cursor"]}
        apps = await self._next_apps(task)
        gate = asyncio.Semaphore(CONCURRENCY)
        figure = (
            self._app_stats if task["task"] == BackgroundTaskType.APPLICATION_STATS else self._subscriptions
        )

        async def one(app: AppHead) -> dict[str, Any] | None:
            async with gate:
                return await figure(task, app)

        entries = [entry for entry in await asyncio.gather(*(one(app) for app in apps)) if entry is not None]
        (key,) = task["data"]
        done = len(apps) < BATCH_SIZE
        cursor = apps[-1]["id"] if apps else task["cursor"]
        status = BackgroundTaskStatus.FINISHED if done else BackgroundTaskStatus.RUNNING
        await self._tasks.update(
            task, {"status": str(status), "data": {key: [*task["data"][key], *entries]}, "cursor": cursor}
        )
        return {"done": done, "cursor": cursor}

    async def fail(self, job: StatsJob) -> None:
        """Marks a task whose workflow gave up (its batches kept failing)."""
        await self._tasks.fail(job["tenantId"], job["taskId"])

    async def _next_apps(self, task: BackgroundTaskDoc) -> list[AppHead]:
        cursor = task["cursor"]
        named = task.get("apps")
        if named is not None:
            return [app for app in named if cursor is None or app["id"] > cursor][:BATCH_SIZE]
        return await queries.application_heads(self._store, task["tenantId"], after=cursor, limit=BATCH_SIZE)

    async def _app_stats(self, task: BackgroundTaskDoc, app: AppHead) -> dict[str, Any] | None:
        window = Window(task.get("since"), task.get("until"))
        count = await queries.message_destination_count(self._store, task["tenantId"], app["id"], window)
        if not count and task.get("apps") is None:
            # Every application was asked for: only those with traffic are listed.
            return None
        return {"appId": app["id"], "appUid": app.get("uid"), "messageDestinations": count}

    async def _subscriptions(self, task: BackgroundTaskDoc, app: AppHead) -> dict[str, Any] | None:
        endpoints = await self._endpoints.list_all(task["tenantId"], app["id"])
        if not endpoints:
            return None
        explicit = sorted({name for endpoint in endpoints for name in endpoint.get("eventTypes") or []})
        return {
            "appId": app["id"],
            "explicitlySubscribedEventTypes": explicit,
            "hasCatchAllEndpoint": any(not endpoint.get("eventTypes") for endpoint in endpoints),
        }
