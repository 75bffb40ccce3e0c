"""What a Svix user asks of one endpoint, through the svix SDK: replays, examples, attempt statistics,
background tasks, and the operational events that report on endpoints and tasks.

Herald runs on a devhost of this module's own with durable timers 100x faster: a failing endpoint's
pair gets one retry a second after its first attempt, then ends `fail`. Loopback receivers answer;
`standardwebhooks` judges every signature.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from svix.api import (
    ApplicationIn,
    BackgroundTaskListOptions,
    BulkReplayIn,
    EndpointGetAttemptStatsOptions,
    EndpointIn,
    EndpointPatch,
    EndpointReplayMissingOptions,
    EndpointSecretRotateIn,
    EventExampleIn,
    EventTypeIn,
    MessageGetOptions,
    MessageIn,
    OperationalWebhookEndpointIn,
    ReplayIn,
    Svix,
    SvixOptions,
)
from svix.exceptions import HTTPValidationError
from svix.models import (
    BackgroundTaskOut,
    BackgroundTaskStatus,
    BackgroundTaskType,
    MessageStatus,
    StatusCodeClass,
)

from tests.support.receivers import Hit, Receiver
from tests.support.sdk import status_of
from tests.support.tokens import Minter
from tests.support.waiting import eventually


@pytest.fixture
def token(mint: Minter, tenant: str) -> str:
    return mint(tenant)


@pytest.fixture
def svix(operations_url: str, token: str) -> Svix:
    return Svix(token, SvixOptions(server_url=operations_url))


@pytest.fixture
def http(operations_url: str, token: str) -> Iterator[httpx.Client]:
    """Raw HTTP, for what the SDK's models leave out (the per-day attempt counts)."""
    with httpx.Client(base_url=operations_url, headers={"authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.fixture
def app_id(svix: Svix) -> str:
    return svix.application.create(ApplicationIn(name="Replays", uid=f"rp-{uuid.uuid4().hex[:10]}")).id


def _path(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def _finished(svix: Svix, task_id: str) -> BackgroundTaskOut:
    def done() -> BackgroundTaskOut | None:
        task = svix.background_task.get(task_id)
        return task if task.status != BackgroundTaskStatus.RUNNING else None

    task: BackgroundTaskOut = eventually(done)
    return task


def _status(svix: Svix, app_id: str, msg_id: str, endpoint_id: str) -> str | None:
    destinations = svix.message_attempt.list_attempted_destinations(app_id, msg_id).data
    return next((str(d.status_text) for d in destinations if d.id == endpoint_id), None)


def _ids(requests: list[Hit]) -> list[str]:
    return sorted(request.headers["webhook-id"] for request in requests)


def _verified(secret: str, request: Hit) -> Any:
    return Webhook(secret).verify(request.body, request.headers)


# --- replay-missing -------------------------------------------------------------------------


def test_replay_missing_sends_only_what_the_endpoint_should_have_had_and_never_got(
    svix: Svix, app_id: str, receiver: Receiver
) -> None:
    path = _path("missing")

    def send(event_type: str, **fields: Any) -> str:
        return str(
            svix.message.create(
                app_id, MessageIn(event_type=event_type, payload={"t": event_type}, **fields)
            ).id
        )

    too_early = send("user.created")
    since = datetime.now(UTC)
    # Created before the endpoint existed.
    before = [send("user.created"), send("invoice.paid", channels=["eu"])]
    endpoint = svix.endpoint.create(
        app_id, EndpointIn(url=receiver.url(path), uid="billing", event_types=["invoice.paid"])
    )
    received = send("invoice.paid")
    receiver.wait_for(path, 1)
    # Filtered out when they were created.
    filtered = [send("user.created"), send("user.created", channels=["us"])]
    never = send("order.shipped")
    later = send("user.created", deliver_at=datetime.now(UTC) + timedelta(hours=1))
    expunged = send("user.created")
    svix.message.expunge_content(app_id, expunged)
    until = datetime.now(UTC)
    too_late = send("user.created")
    # The endpoint now listens to more: what it was not sent then is missing now.
    svix.endpoint.patch(app_id, endpoint.id, EndpointPatch(event_types=["invoice.paid", "user.created"]))

    started = svix.endpoint.replay_missing(app_id, "billing", ReplayIn(since=since, until=until))
    assert (started.status, started.task) == (
        BackgroundTaskStatus.RUNNING,
        BackgroundTaskType.ENDPOINT_REPLAY,
    )
    task = _finished(svix, started.id)
    assert task.status == BackgroundTaskStatus.FINISHED
    assert (task.task, task.data["messagesSent"], task.data["messagesFailed"]) == (
        BackgroundTaskType.ENDPOINT_REPLAY,
        4,
        0,
    )

    replayed = receiver.requests(path)[1:]
    assert _ids(replayed) == sorted([*before, *filtered])
    secret = svix.endpoint.get_secret(app_id, endpoint.id).key
    assert sorted(_verified(secret, r)["t"] for r in replayed) == ["invoice.paid"] + ["user.created"] * 3
    sent = _ids(receiver.requests(path))
    counts = {msg_id: sent.count(msg_id) for msg_id in (received, never, later, too_early, too_late)}
    assert counts == {received: 1, never: 0, later: 0, too_early: 0, too_late: 0}
    # Each replayed message is now one of the endpoint's, with its status and its manual attempt.
    for msg_id in [*before, *filtered]:
        assert _status(svix, app_id, msg_id, endpoint.id) == "success"
        (attempt,) = svix.message_attempt.list_by_msg(app_id, msg_id).data
        assert (attempt.endpoint_id, attempt.response_status_code, int(attempt.trigger_type)) == (
            endpoint.id,
            200,
            1,
        )
    listed = {m.id for m in svix.message_attempt.list_attempted_messages(app_id, endpoint.id).data}
    assert listed == {received, *before, *filtered}

    # Nothing is missing any more: a second replay of the same window sends nothing.
    again = _finished(
        svix, svix.endpoint.replay_missing(app_id, endpoint.id, ReplayIn(since=since, until=until)).id
    )
    assert (again.status, again.data["messagesSent"]) == (BackgroundTaskStatus.FINISHED, 0)
    assert len(receiver.requests(path)) == 5


def test_replay_missing_is_one_task_per_idempotency_key_and_refuses_what_it_cannot_do(
    svix: Svix, app_id: str, receiver: Receiver, operations_url: str, mint: Minter
) -> None:
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(_path("refused"))))
    window = ReplayIn(since=datetime.now(UTC) - timedelta(minutes=5))
    options = EndpointReplayMissingOptions(idempotency_key=f"replay-{uuid.uuid4().hex}")
    first = svix.endpoint.replay_missing(app_id, endpoint.id, window, options)
    assert svix.endpoint.replay_missing(app_id, endpoint.id, window, options).id == first.id
    _finished(svix, first.id)
    replays = svix.background_task.list(
        BackgroundTaskListOptions(task=BackgroundTaskType.ENDPOINT_REPLAY)
    ).data
    assert [t.id for t in replays] == [first.id]

    backwards = ReplayIn(since=datetime(2026, 1, 2, tzinfo=UTC), until=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(HTTPValidationError):
        svix.endpoint.replay_missing(app_id, endpoint.id, backwards)
    assert status_of(lambda: svix.endpoint.replay_missing(app_id, "ep_missing", window)) == 404
    stranger = Svix(mint(f"tenant-{uuid.uuid4().hex[:12]}"), SvixOptions(server_url=operations_url))
    assert status_of(lambda: stranger.endpoint.replay_missing(app_id, endpoint.id, window)) == 404
    assert status_of(lambda: stranger.background_task.get(first.id)) == 404
    svix.endpoint.patch(app_id, endpoint.id, EndpointPatch(disabled=True))
    assert status_of(lambda: svix.endpoint.replay_missing(app_id, endpoint.id, window)) == 400
    assert (
        status_of(lambda: svix.endpoint.bulk_replay(app_id, endpoint.id, BulkReplayIn(since=window.since)))
        == 400
    )
    assert [t.id for t in svix.background_task.list().data] == [first.id]


# --- bulk-replay ----------------------------------------------------------------------------


def test_bulk_replay_sends_the_endpoints_messages_again_narrowed_by_each_filter(
    svix: Svix, app_id: str, receiver: Receiver
) -> None:
    path = _path("bulk")
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path)))

    def send(event_type: str, answer: int, final: str, **fields: Any) -> str:
        receiver.url(path, answer)
        msg_id = str(svix.message.create(app_id, MessageIn(event_type=event_type, payload={}, **fields)).id)
        eventually(lambda: _status(svix, app_id, msg_id, endpoint.id) == final)
        return msg_id

    before = send("a", 200, "success")
    since = datetime.now(UTC)
    ok_eu = send("a", 200, "success", channels=["eu"], tags=["vip"])
    ok_b = send("b", 200, "success", tags=["std"])
    gone = send("a", 404, "fail", channels=["eu"])
    broken = send("b", 500, "fail")
    until = datetime.now(UTC)
    after = send("a", 200, "success")
    replayed: set[str] = set()

    def replay(answer: int, **filters: Any) -> list[str]:
        """The messages one bulk replay sent, the receiver answering `answer` to each."""
        receiver.url(path, answer)
        seen = len(receiver.requests(path))
        window = BulkReplayIn(since=since, until=until, **filters)
        task = _finished(svix, svix.endpoint.bulk_replay(app_id, endpoint.id, window).id)
        assert (task.status, task.task) == (
            BackgroundTaskStatus.FINISHED,
            BackgroundTaskType.ENDPOINT_BULK_REPLAY,
        )
        sent = _ids(receiver.requests(path)[seen:])
        assert (task.data["messagesSent"], task.data["messagesFailed"]) == (
            len(sent),
            0 if answer == 200 else len(sent),
        )
        replayed.update(sent)
        return sent

    # The class of each pair's latest answer; replays that fail again keep the pairs failed.
    assert replay(404, status_code_class=StatusCodeClass.CODE4XX) == [gone]
    assert replay(500, status_code_class=StatusCodeClass.CODE5XX) == [broken]
    assert replay(500, status=MessageStatus.FAIL) == sorted([gone, broken])
    # `gone` last answered 500 just now.
    assert replay(500, status_code_class=StatusCodeClass.CODE4XX) == []
    assert replay(200, status=MessageStatus.SUCCESS, event_types=["a"]) == [ok_eu]
    assert replay(200, event_types=["b"]) == sorted([ok_b, broken])
    assert replay(200, channel="eu") == sorted([ok_eu, gone])
    assert replay(200, tag="std") == [ok_b]
    assert replay(200, channel="us") == []
    # Both successful and failed messages, and each is a manual attempt that moves its pair.
    assert replay(200) == sorted([ok_eu, ok_b, gone, broken])
    assert replay(200, status=MessageStatus.FAIL) == []
    assert before not in replayed and after not in replayed
    kinds = {task.task for task in svix.background_task.list().data}
    assert kinds == {BackgroundTaskType.ENDPOINT_BULK_REPLAY}


def test_bulk_replay_refuses_filters_outside_svixs_rules(svix: Svix, app_id: str, http: httpx.Client) -> None:
    endpoint = svix.endpoint.create(app_id, EndpointIn(url="https://hooks.example.com/x"))
    url = f"/api/v1/app/{app_id}/endpoint/{endpoint.id}/bulk-replay"
    since = datetime.now(UTC).isoformat()
    for body, loc in [
        ({"since": since, "status": 7}, ["body", "status"]),
        ({"since": since, "statusCodeClass": 250}, ["body", "statusCodeClass"]),
        ({"since": since, "channel": "a b"}, ["body", "channel"]),
        ({"since": since, "tag": "a b"}, ["body", "tag"]),
        ({"since": since, "eventTypes": ["no spaces"]}, ["body", "eventTypes", 0]),
        ({"until": since}, ["body", "since"]),
    ]:
        answer = http.post(url, json=body)
        assert answer.status_code == 422, body
        assert [error["loc"] for error in answer.json()["detail"]] == [loc]
    naive = http.post(url, json={"since": "2026-01-01T00:00:00"})
    assert naive.status_code == 422 and "timezone" in naive.json()["detail"][0]["msg"]
    assert svix.background_task.list().data == []


# --- send-example ---------------------------------------------------------------------------


def test_send_example_sends_the_schema_example_to_that_endpoint_alone(
    svix: Svix, app_id: str, receiver: Receiver
) -> None:
    name = f"invoice.paid.{uuid.uuid4().hex[:6]}"
    examples = [{"invoice": "in_1", "amount": 100}, {"invoice": "in_2", "amount": 250}]
    svix.event_type.create(
        EventTypeIn(name=name, description="paid", schemas={"1": {"type": "object", "examples": examples}})
    )
    target, other = _path("example"), _path("other")
    endpoint = svix.endpoint.create(
        app_id, EndpointIn(url=receiver.url(target), event_types=["something.else"])
    )
    svix.endpoint.create(app_id, EndpointIn(url=receiver.url(other)))

    second = svix.endpoint.send_example(app_id, endpoint.id, EventExampleIn(event_type=name, example_index=1))
    assert (second.id[:4], second.event_type, second.payload) == ("msg_", name, examples[1])
    first = svix.endpoint.send_example(app_id, endpoint.id, EventExampleIn(event_type=name))
    ping = svix.endpoint.send_example(app_id, endpoint.id, EventExampleIn(event_type="svix.ping"))
    custom = svix.endpoint.send_example(
        app_id, endpoint.id, EventExampleIn(event_type=name, payload={"own": True})
    )

    requests = receiver.wait_for(target, 4)
    secret = svix.endpoint.get_secret(app_id, endpoint.id).key
    bodies = {r.headers["webhook-id"]: _verified(secret, r) for r in requests}
    assert bodies == {
        second.id: examples[1],
        first.id: examples[0],
        ping.id: {"success": True},
        custom.id: {"own": True},
    }
    # A real message of the application, sent to that one endpoint whatever its filters say.
    stored = svix.message.get(app_id, ping.id, MessageGetOptions(with_content=True))
    assert (stored.event_type, stored.payload) == ("svix.ping", {"success": True})
    assert [d.id for d in svix.message_attempt.list_attempted_destinations(app_id, first.id).data] == [
        endpoint.id
    ]
    eventually(lambda: _status(svix, app_id, first.id, endpoint.id) == "success")
    assert receiver.requests(other) == []


def test_send_example_refuses_what_has_no_example(svix: Svix, app_id: str, receiver: Receiver) -> None:
    bare, listless = f"bare.{uuid.uuid4().hex[:6]}", f"listless.{uuid.uuid4().hex[:6]}"
    svix.event_type.create(EventTypeIn(name=bare, description="no schema"))
    svix.event_type.create(
        EventTypeIn(name=listless, description="schema", schemas={"1": {"examples": [1, 2]}})
    )
    path = _path("refused")
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path)))

    def refused(event_type: str, index: int = 0) -> int:
        return status_of(
            lambda: svix.endpoint.send_example(
                app_id, endpoint.id, EventExampleIn(event_type=event_type, example_index=index)
            )
        )

    assert refused(f"unknown.{uuid.uuid4().hex[:6]}") == 404
    assert refused(bare) == 400
    # The examples are not JSON objects, so none can be a payload.
    assert refused(listless) == 400
    with pytest.raises(HTTPValidationError) as caught:
        svix.endpoint.send_example(app_id, endpoint.id, EventExampleIn(event_type=listless, example_index=2))
    assert caught.value.status_code == 422
    svix.endpoint.patch(app_id, endpoint.id, EndpointPatch(disabled=True))
    assert refused("svix.ping") == 400
    assert svix.message.list(app_id).data == [] and receiver.requests(path) == []


# --- attempt-stats --------------------------------------------------------------------------


def test_attempt_stats_count_each_days_attempts_by_status(
    svix: Svix, app_id: str, receiver: Receiver, http: httpx.Client
) -> None:
    path = _path("stats")
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 200)))
    ok = svix.message.create(app_id, MessageIn(event_type="a", payload={}))
    eventually(lambda: _status(svix, app_id, ok.id, endpoint.id) == "success")
    receiver.url(path, 500)
    failed = svix.message.create(app_id, MessageIn(event_type="a", payload={}))
    eventually(lambda: _status(svix, app_id, failed.id, endpoint.id) == "fail")
    # A pending retry whose endpoint is disabled before it comes due ends canceled, with no request.
    canceled = svix.message.create(app_id, MessageIn(event_type="a", payload={}))
    eventually(lambda: _status(svix, app_id, canceled.id, endpoint.id) == "pending")
    svix.endpoint.patch(app_id, endpoint.id, EndpointPatch(disabled=True))
    eventually(lambda: _status(svix, app_id, canceled.id, endpoint.id) == "canceled")

    stats = svix.endpoint.get_attempt_stats(app_id, endpoint.id)
    # The first attempt and the retry of `failed`, and the first attempt of `canceled`.
    assert (stats.success, stats.fail, stats.canceled) == (1, 3, 1)

    now = datetime.now(UTC)
    since = now - timedelta(days=2)
    answer = http.get(
        f"/api/v1/app/{app_id}/endpoint/{endpoint.id}/attempt-stats", params={"since": since.isoformat()}
    ).json()
    assert answer["period"] == "OneDay"
    assert datetime.fromisoformat(answer["startDate"]) == since.replace(minute=0, second=0, microsecond=0)
    assert datetime.fromisoformat(answer["endDate"]) == now.replace(
        minute=0, second=0, microsecond=0
    ) + timedelta(hours=1)
    # Three UTC days: the day of `since`, the day between, today.
    assert answer["data"] == {
        "successCount": [0, 0, 1],
        "failureCount": [0, 0, 3],
        "canceledCount": [0, 0, 1],
    }
    assert (answer["success"], answer["fail"], answer["canceled"]) == (1, 3, 1)

    earlier = EndpointGetAttemptStatsOptions(since=now - timedelta(days=3), until=now - timedelta(days=1))
    assert svix.endpoint.get_attempt_stats(app_id, endpoint.id, earlier).model_dump() == {
        "success": 0,
        "fail": 0,
        "canceled": 0,
    }
    backwards = EndpointGetAttemptStatsOptions(since=now, until=now - timedelta(days=1))
    too_long = EndpointGetAttemptStatsOptions(since=now - timedelta(days=120))
    # Rounded up to the hour, it would end after the year 9999.
    out_of_range = EndpointGetAttemptStatsOptions(
        since=datetime(9999, 12, 31, tzinfo=UTC), until=datetime(9999, 12, 31, 23, 30, tzinfo=UTC)
    )
    for options in (backwards, too_long, out_of_range):
        with pytest.raises(HTTPValidationError):
            svix.endpoint.get_attempt_stats(app_id, endpoint.id, options)
    assert status_of(lambda: svix.endpoint.get_attempt_stats(app_id, "ep_missing")) == 404


# --- operational events ---------------------------------------------------------------------


def test_endpoint_changes_and_finished_tasks_are_announced_to_operational_webhooks(
    svix: Svix, receiver: Receiver
) -> None:
    everything, enabled_only = _path("ops-all"), _path("ops-enabled")
    ops = svix.operational_webhook.endpoint.create(OperationalWebhookEndpointIn(url=receiver.url(everything)))
    svix.operational_webhook.endpoint.create(
        OperationalWebhookEndpointIn(url=receiver.url(enabled_only), event_types=["endpoint.enabled"])
    )
    secret = svix.operational_webhook.endpoint.get_secret(ops.id).key
    app = svix.application.create(ApplicationIn(name="Ops", uid=f"ops-{uuid.uuid4().hex[:8]}"))
    seen: list[dict[str, Any]] = []

    def events(count: int) -> list[tuple[str, dict[str, Any]]]:
        """The next `count` events, in the order they were sent."""
        requests = receiver.wait_for(everything, len(seen) + count)
        fresh = [_verified(secret, r) for r in requests[len(seen) :]]
        seen.extend(fresh)
        return sorted((event["type"], event["data"]) for event in fresh)

    endpoint = svix.endpoint.create(app.id, EndpointIn(url=receiver.url(_path("target")), uid="ep-main"))
    ids = {"appId": app.id, "appUid": app.uid, "endpointId": endpoint.id, "endpointUid": "ep-main"}
    assert events(1) == [("endpoint.created", ids)]
    svix.endpoint.patch(app.id, endpoint.id, EndpointPatch(description="renamed"))
    assert events(1) == [("endpoint.updated", ids)]
    svix.endpoint.patch(app.id, endpoint.id, EndpointPatch(disabled=True))
    assert events(2) == [
        ("endpoint.disabled", {**ids, "trigger": "manual", "failSince": None}),
        ("endpoint.updated", ids),
    ]
    svix.endpoint.patch(app.id, endpoint.id, EndpointPatch(disabled=False))
    assert events(2) == [("endpoint.enabled", ids), ("endpoint.updated", ids)]
    svix.endpoint.rotate_secret(app.id, endpoint.id, EndpointSecretRotateIn())
    assert events(1) == [("endpoint.updated", ids)]

    task = svix.endpoint.replay_missing(
        app.id, endpoint.id, ReplayIn(since=datetime.now(UTC) - timedelta(hours=1))
    )
    _finished(svix, task.id)
    assert events(1) == [
        (
            "background_task.finished",
            {
                "taskId": task.id,
                "task": "endpoint.replay",
                "status": "finished",
                "data": {"messagesSent": 0, "messagesFailed": 0},
            },
        )
    ]
    svix.endpoint.delete(app.id, endpoint.id)
    assert events(1) == [("endpoint.deleted", ids)]
    assert all(datetime.fromisoformat(event["timestamp"]).tzinfo is not None for event in seen)
    # An operational endpoint that listens to one type gets only that one.
    (only,) = receiver.requests(enabled_only)
    assert json.loads(only.body)["type"] == "endpoint.enabled"
