"""Usage statistics through the svix SDK: `statistics.aggregate_app_stats` and `aggregate_event_types`.

Both are background tasks, read back through `background_task.get` / `.list`. Each test has a
tenant of its own: the figures cover every application of the tenant.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from svix.api import (
    ApplicationIn,
    AppUsageStatsIn,
    BackgroundTaskListOptions,
    EndpointIn,
    MessageIn,
    Svix,
    SvixOptions,
)
from svix.exceptions import HTTPValidationError
from svix.models import BackgroundTaskOut, BackgroundTaskStatus, BackgroundTaskType

from tests.support.receivers import Receiver
from tests.support.tokens import Minter

# More applications than one batch of the workflow (statistics.BATCH_SIZE): it continues as new.
MANY_APPS = 52


@pytest.fixture
def svix(herald_url: str, mint: Minter) -> Svix:
    return Svix(mint(f"tenant-{uuid.uuid4().hex[:12]}"), SvixOptions(server_url=herald_url))


def _finished(svix: Svix, task_id: str) -> BackgroundTaskOut:
    deadline = time.monotonic() + 30
    while True:
        task = svix.background_task.get(task_id)
        if task.status != BackgroundTaskStatus.RUNNING:
            assert task.status == BackgroundTaskStatus.FINISHED, task
            return task
        assert time.monotonic() < deadline, "the task did not finish"
        time.sleep(0.1)


def _apps(svix: Svix, count: int) -> list[str]:
    return [svix.application.create(ApplicationIn(name=f"app {n}", uid=f"app-{n}")).id for n in range(count)]


def test_app_stats_count_message_destinations_per_application_in_the_window(
    svix: Svix, receiver: Receiver
) -> None:
    apps = _apps(svix, MANY_APPS)
    busy, quiet, last = apps[0], apps[1], apps[-1]
    for app_id in (busy, last):
        svix.endpoint.create(app_id, EndpointIn(url=receiver.url(f"a-{uuid.uuid4().hex[:6]}")))
    svix.endpoint.create(busy, EndpointIn(url=receiver.url("b"), event_types=["paid"]))
    for event_type in ("paid", "paid", "sent"):
        svix.message.create(busy, MessageIn(event_type=event_type, payload={}))
    svix.message.create(last, MessageIn(event_type="paid", payload={}))
    now = datetime.now(UTC)
    window = AppUsageStatsIn(since=now - timedelta(hours=1), until=now + timedelta(minutes=1))

    started = svix.statistics.aggregate_app_stats(window)
    assert (started.task, started.status, started.unresolved_app_ids) == (
        BackgroundTaskType.APPLICATION_STATS,
        BackgroundTaskStatus.RUNNING,
        [],
    )
    stats = _finished(svix, started.id).data["appStats"]
    # Two "paid" to both endpoints, one "sent" to the unfiltered one; applications without any left out.
    assert stats == [
        {"appId": busy, "appUid": "app-0", "messageDestinations": 5},
        {"appId": last, "appUid": f"app-{MANY_APPS - 1}", "messageDestinations": 1},
    ]

    named = svix.statistics.aggregate_app_stats(
        AppUsageStatsIn(since=window.since, until=window.until, app_ids=["app-1", busy, "nobody"])
    )
    assert named.unresolved_app_ids == ["nobody"]
    assert sorted(_finished(svix, named.id).data["appStats"], key=lambda s: s["appUid"]) == [
        {"appId": busy, "appUid": "app-0", "messageDestinations": 5},
        {"appId": quiet, "appUid": "app-1", "messageDestinations": 0},
    ]

    later = AppUsageStatsIn(since=now + timedelta(minutes=1), until=now + timedelta(hours=1))
    assert _finished(svix, svix.statistics.aggregate_app_stats(later).id).data == {"appStats": []}

    listed = svix.background_task.list(BackgroundTaskListOptions(task=BackgroundTaskType.APPLICATION_STATS))
    assert {task.id for task in listed.data} >= {started.id, named.id}


def test_app_stats_refuse_a_backwards_window_and_names_that_are_no_application(svix: Svix) -> None:
    now = datetime.now(UTC)
    with pytest.raises(HTTPValidationError):
        svix.statistics.aggregate_app_stats(AppUsageStatsIn(since=now, until=now - timedelta(hours=1)))
    with pytest.raises(HTTPValidationError) as none_found:
        svix.statistics.aggregate_app_stats(
            AppUsageStatsIn(since=now - timedelta(hours=1), until=now, app_ids=["nobody"])
        )
    assert none_found.value.detail[0].loc == ["body", "appIds"]
    assert svix.background_task.list().data == []


def test_event_type_aggregate_lists_what_each_application_subscribes_to(
    svix: Svix, receiver: Receiver
) -> None:
    apps = _apps(svix, MANY_APPS)
    filtered, mixed, last = apps[0], apps[1], apps[-1]

    def endpoint(app_id: str, event_types: list[str] | None, **fields: Any) -> None:
        url = receiver.url(f"e-{uuid.uuid4().hex[:6]}")
        svix.endpoint.create(app_id, EndpointIn(url=url, event_types=event_types, **fields))

    endpoint(filtered, ["user.created", "invoice.paid"])
    endpoint(filtered, ["invoice.paid", "user.deleted"], disabled=True)
    endpoint(mixed, ["a"])
    endpoint(mixed, None)
    endpoint(last, None)

    started = svix.statistics.aggregate_event_types()
    assert (started.task, started.status) == (
        BackgroundTaskType.EVENT_TYPE_AGGREGATE,
        BackgroundTaskStatus.RUNNING,
    )
    assert _finished(svix, started.id).data == {
        "event_types": [
            {
                "appId": filtered,
                "explicitlySubscribedEventTypes": ["invoice.paid", "user.created", "user.deleted"],
                "hasCatchAllEndpoint": False,
            },
            {"appId": mixed, "explicitlySubscribedEventTypes": ["a"], "hasCatchAllEndpoint": True},
            {"appId": last, "explicitlySubscribedEventTypes": [], "hasCatchAllEndpoint": True},
        ]
    }
    kinds = BackgroundTaskListOptions(task=BackgroundTaskType.EVENT_TYPE_AGGREGATE)
    assert [task.id for task in svix.background_task.list(kinds).data] == [started.id]
