"""Operating deliveries end to end through devhost: operational webhooks, manual resends, recovery.

The svix SDK drives Herald; loopback receivers answer; `standardwebhooks` judges the signatures of
operational events. Timers run 100x faster (DEVHOST_DURABLE_TIMER_SCALE): one retry, one second
after the first attempt, so a failing endpoint's pairs end `fail` within about a second.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks import Webhook
from svix.api import (
    ApplicationIn,
    BackgroundTaskListOptions,
    EndpointIn,
    EndpointPatch,
    MessageIn,
    OperationalWebhookEndpointHeadersIn,
    OperationalWebhookEndpointIn,
    OperationalWebhookEndpointSecretIn,
    OperationalWebhookEndpointUpsertIn,
    RecoverIn,
    Svix,
    SvixOptions,
)
from svix.exceptions import HTTPValidationError
from svix.models import BackgroundTaskOut, BackgroundTaskStatus, BackgroundTaskType

from devhost.testing import free_port
from shared.services.registry import Services
from tests.support.receivers import Receiver
from tests.support.sdk import status_of
from tests.support.tokens import Minter
from tests.support.waiting import eventually


@pytest.fixture
def svix(operations_url: str, mint: Minter, tenant: str) -> Svix:
    return Svix(mint(tenant), SvixOptions(server_url=operations_url))


@pytest.fixture
def stranger(operations_url: str, mint: Minter) -> Svix:
    """Another tenant, with every scope."""
    return Svix(mint(f"tenant-{uuid.uuid4().hex[:12]}"), SvixOptions(server_url=operations_url))


@pytest.fixture
def app_id(svix: Svix) -> str:
    return svix.application.create(ApplicationIn(name="Ops", uid=f"ops-{uuid.uuid4().hex[:10]}")).id


def _path(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def _pair_status(svix: Svix, app_id: str, msg_id: str) -> str:
    (destination,) = svix.message_attempt.list_attempted_destinations(app_id, msg_id).data
    return str(destination.status_text)


def _settled(svix: Svix, app_id: str, msg_id: str, status: str) -> bool:
    return _pair_status(svix, app_id, msg_id) == status


# --- operational-webhook endpoints ------------------------------------------------------------


def test_operational_endpoints_are_created_read_updated_and_deleted_through_the_sdk(
    svix: Svix, receiver: Receiver
) -> None:
    endpoints = svix.operational_webhook.endpoint
    created = endpoints.create(
        OperationalWebhookEndpointIn(
            url=receiver.url(_path("op")),
            uid="ops-main",
            description="on call",
            event_types=["endpoint.disabled"],
            metadata={"team": "payments"},
        )
    )
    assert created.id.startswith("ep_")
    assert (created.uid, created.event_types, created.disabled) == ("ops-main", ["endpoint.disabled"], False)
    assert endpoints.get("ops-main").id == created.id
    assert [e.id for e in endpoints.list().data] == [created.id]

    updated = endpoints.upsert(
        created.id,
        OperationalWebhookEndpointUpsertIn(
            url=receiver.url(_path("op")), event_types=["message.attempt.exhausted"], disabled=True
        ),
    )
    assert (updated.id, updated.event_types, updated.disabled) == (
        created.id,
        ["message.attempt.exhausted"],
        True,
    )
    # PUT on a uid no endpoint holds creates one (Svix's upsert).
    upserted = endpoints.upsert("ops-spare", OperationalWebhookEndpointUpsertIn(url=receiver.url("spare")))
    assert upserted.id != created.id and upserted.uid == "ops-spare"
    assert len(endpoints.list().data) == 2

    endpoints.delete(created.id)
    assert status_of(lambda: endpoints.get(created.id)) == 404
    assert [e.id for e in endpoints.list().data] == [upserted.id]


def test_operational_endpoint_secrets_rotate_and_headers_redact(svix: Svix, receiver: Receiver) -> None:
    endpoints = svix.operational_webhook.endpoint
    chosen = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"
    endpoint = endpoints.create(
        OperationalWebhookEndpointIn(url=receiver.url(_path("op")), secret=chosen, headers={"x-team": "ops"})
    )
    assert endpoints.get_secret(endpoint.id).key == chosen
    endpoints.rotate_secret(endpoint.id, OperationalWebhookEndpointSecretIn())
    rotated = endpoints.get_secret(endpoint.id).key
    assert rotated.startswith("whsec_") and rotated != chosen

    assert endpoints.get_headers(endpoint.id).headers == {"x-team": "ops"}
    endpoints.set_headers(
        endpoint.id, OperationalWebhookEndpointHeadersIn(headers={"Authorization": "Bearer t", "x-b": "1"})
    )
    headers = endpoints.get_headers(endpoint.id)
    assert (headers.headers, headers.sensitive) == ({"x-b": "1"}, ["Authorization"])


def test_operational_endpoint_urls_pass_the_ssrf_guard(svix: Svix) -> None:
    with pytest.raises(HTTPValidationError) as caught:
        svix.operational_webhook.endpoint.create(OperationalWebhookEndpointIn(url="http://169.254.169.254/x"))
    assert caught.value.status_code == 422


def test_another_tenant_cannot_see_or_touch_operational_endpoints(
    svix: Svix, stranger: Svix, receiver: Receiver, operations_url: str, mint: Minter, tenant: str
) -> None:
    endpoint = svix.operational_webhook.endpoint.create(OperationalWebhookEndpointIn(url=receiver.url("op")))
    theirs = stranger.operational_webhook.endpoint
    assert theirs.list().data == []
    assert status_of(lambda: theirs.get(endpoint.id)) == 404
    assert status_of(lambda: theirs.get_secret(endpoint.id)) == 404
    assert status_of(lambda: theirs.delete(endpoint.id)) == 404
    # Operational webhooks are administration: a writer of the same tenant may not manage them.
    writer = Svix(mint(tenant, "herald.read herald.write"), SvixOptions(server_url=operations_url))
    assert status_of(lambda: writer.operational_webhook.endpoint.list()) == 403
    assert svix.operational_webhook.endpoint.get(endpoint.id).id == endpoint.id


# --- operational events ------------------------------------------------------------------------


def _verified(svix: Svix, endpoint_id: str, request: Any) -> dict[str, Any]:
    secret = svix.operational_webhook.endpoint.get_secret(endpoint_id).key
    event: dict[str, Any] = Webhook(secret).verify(request.body, request.headers)
    return event


async def test_emit_sends_signed_events_only_to_enabled_endpoints_that_listen(
    svix: Svix, stranger: Svix, receiver: Receiver, services: Services, tenant: str
) -> None:
    paths = {name: _path(name) for name in ("typed", "all", "other-type", "disabled", "stranger", "flaky")}

    def create(client: Svix, name: str, **fields: Any) -> str:
        url = receiver.url(paths[name], *fields.pop("answers", ()))
        return str(
            client.operational_webhook.endpoint.create(OperationalWebhookEndpointIn(url=url, **fields)).id
        )

    typed = create(svix, "typed", event_types=["message.attempt.exhausted"])
    everything = create(svix, "all")
    create(svix, "other-type", event_types=["endpoint.disabled"])
    create(svix, "disabled", disabled=True)
    create(stranger, "stranger")
    flaky = create(svix, "flaky", answers=(503, 200))
    data = {"appId": "app_1", "msgId": "msg_1", "endpointId": "ep_1", "lastAttempt": {"id": "atmpt_1"}}

    await services.operational.emit(tenant, "message.attempt.exhausted", data)

    received = {name: receiver.requests(path) for name, path in paths.items()}
    assert [len(received[name]) for name in paths] == [1, 1, 0, 0, 0, 2]
    events = [
        _verified(svix, typed, received["typed"][0]),
        _verified(svix, everything, received["all"][0]),
        _verified(svix, flaky, received["flaky"][1]),
    ]
    for event in events:
        assert (event["type"], event["data"]) == ("message.attempt.exhausted", data)
        assert datetime.fromisoformat(event["timestamp"]).tzinfo is not None
    # One event id everywhere, the retry included: receivers dedupe on it.
    ids = {r.headers["webhook-id"] for name in ("typed", "all", "flaky") for r in received[name]}
    assert len(ids) == 1 and ids.pop().startswith("msg_")


async def test_emit_gives_up_after_one_retry_and_never_raises(
    svix: Svix, receiver: Receiver, services: Services, tenant: str
) -> None:
    down = _path("down")
    svix.operational_webhook.endpoint.create(OperationalWebhookEndpointIn(url=receiver.url(down, 500)))
    # Nothing listens there: the request fails without an answer.
    closed = f"http://127.0.0.1:{free_port()}/x"
    svix.operational_webhook.endpoint.create(OperationalWebhookEndpointIn(url=closed))

    await services.operational.emit(tenant, "endpoint.disabled", {"appId": "app_1", "endpointId": "ep_1"})

    assert len(receiver.requests(down)) == 2


def test_an_exhausted_delivery_sends_message_attempt_exhausted(
    svix: Svix, app_id: str, receiver: Receiver
) -> None:
    ops_path, down = _path("ops"), _path("down")
    ops = svix.operational_webhook.endpoint.create(
        OperationalWebhookEndpointIn(url=receiver.url(ops_path), event_types=["message.attempt.exhausted"])
    )
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(down, 500)))
    msg = svix.message.create(app_id, MessageIn(event_type="a", payload={}, event_id="evt-1"))

    (request,) = receiver.wait_for(ops_path, 1)
    event = _verified(svix, ops.id, request)
    assert event["type"] == "message.attempt.exhausted"
    data = event["data"]
    assert (data["appId"], data["msgId"], data["msgEventId"], data["endpointId"]) == (
        app_id,
        msg.id,
        "evt-1",
        endpoint.id,
    )

    def last_attempt() -> Any:
        attempts = svix.message_attempt.list_by_msg(app_id, msg.id).data
        return next((a for a in attempts if a.id == data["lastAttempt"]["id"]), None)

    # The event may overtake the attempt's log entry: the log is read until it shows it.
    last = eventually(last_attempt, timeout=5)
    assert (last.response_status_code, data["lastAttempt"]["responseStatusCode"]) == (500, 500)


# --- manual resend ------------------------------------------------------------------------------


def test_resend_makes_exactly_one_manual_attempt_and_moves_the_pair(
    svix: Svix, app_id: str, receiver: Receiver
) -> None:
    path = _path("resend")
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 500)))
    msg = svix.message.create(app_id, MessageIn(event_type="a", payload={"n": 1}))
    receiver.wait_for(path, 2)
    eventually(lambda: _settled(svix, app_id, msg.id, "fail"))

    # A resend that fails is one request: the pair stays failed and no retries follow.
    receiver.url(path, 503)
    svix.message_attempt.resend(app_id, msg.id, endpoint.id)
    assert len(receiver.requests(path)) == 3
    assert _pair_status(svix, app_id, msg.id) == "fail"

    receiver.url(path, 200)
    svix.message_attempt.resend(app_id, msg.id, endpoint.id)
    requests = receiver.requests(path)
    assert len(requests) == 4 and {r.headers["webhook-id"] for r in requests} == {msg.id}
    secret = svix.endpoint.get_secret(app_id, endpoint.id).key
    assert Webhook(secret).verify(requests[-1].body, requests[-1].headers) == {"n": 1}
    assert _pair_status(svix, app_id, msg.id) == "success"
    attempts = svix.message_attempt.list_by_msg(app_id, msg.id).data
    assert [(a.response_status_code, int(a.trigger_type)) for a in attempts] == [
        (200, 1),
        (503, 1),
        (500, 0),
        (500, 0),
    ]
    time.sleep(1.5)
    assert len(receiver.requests(path)) == 4


def test_resend_answers_404_for_what_the_caller_cannot_resend(
    svix: Svix, stranger: Svix, app_id: str, receiver: Receiver
) -> None:
    path = _path("resend-404")
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path)))
    msg = svix.message.create(app_id, MessageIn(event_type="a", payload={}))
    receiver.wait_for(path, 1)
    later = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(_path("later"))))
    assert status_of(lambda: svix.message_attempt.resend(app_id, msg.id, later.id)) == 404
    assert status_of(lambda: stranger.message_attempt.resend(app_id, msg.id, endpoint.id)) == 404
    svix.endpoint.patch(app_id, endpoint.id, EndpointPatch(disabled=True))
    assert status_of(lambda: svix.message_attempt.resend(app_id, msg.id, endpoint.id)) == 400
    assert len(receiver.requests(path)) == 1


# --- recovery -----------------------------------------------------------------------------------


async def test_recover_resends_only_the_failed_pairs_of_its_window_in_batches(
    svix: Svix, stranger: Svix, app_id: str, receiver: Receiver, services: Services, tenant: str
) -> None:
    path = _path("recover")
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 500)))

    def send(n: str) -> str:
        return str(svix.message.create(app_id, MessageIn(event_type="a", payload={"n": n})).id)

    before = send("before")
    eventually(lambda: _settled(svix, app_id, before, "fail"))
    since = datetime.now(UTC)
    receiver.url(path, 200)
    succeeded = send("ok")
    eventually(lambda: _settled(svix, app_id, succeeded, "success"))
    receiver.url(path, 500)
    failed = [send(f"f{i}") for i in range(5)]
    until = datetime.now(UTC)
    after = send("after")
    eventually(lambda: all(_settled(svix, app_id, msg_id, "fail") for msg_id in [*failed, after]))
    receiver.url(path, 200)
    seen = len(receiver.requests(path))

    started = svix.endpoint.recover(app_id, endpoint.id, RecoverIn(since=since, until=until))
    assert (started.status, started.task) == (
        BackgroundTaskStatus.RUNNING,
        BackgroundTaskType.ENDPOINT_RECOVER,
    )

    def finished() -> BackgroundTaskOut | None:
        task = svix.background_task.get(started.id)
        return task if task.status == BackgroundTaskStatus.FINISHED else None

    task = eventually(finished)
    assert (task.data["messagesSent"], task.data["messagesFailed"]) == (5, 0)

    resent = receiver.requests(path)[seen:]
    assert sorted(r.headers["webhook-id"] for r in resent) == sorted(failed)
    assert sorted(json.loads(r.body)["n"] for r in resent) == [f"f{i}" for i in range(5)]
    assert all(_pair_status(svix, app_id, msg_id) == "success" for msg_id in failed)
    assert (_pair_status(svix, app_id, before), _pair_status(svix, app_id, after)) == ("fail", "fail")
    assert int(svix.message_attempt.list_by_msg(app_id, failed[0]).data[0].trigger_type) == 1
    # Five pairs, two per batch: three steps of the workflow.
    doc = await services.background_tasks.find(tenant, started.id)
    assert doc is not None and doc["batches"] == 3
    # Kept as long as messages are, counted from its last change: it does not pile up forever.
    assert doc["ttl"] == services.settings.retention_days * 86400

    listed = svix.background_task.list(BackgroundTaskListOptions(status=BackgroundTaskStatus.FINISHED))
    assert [t.id for t in listed.data] == [started.id]
    other_kind = BackgroundTaskListOptions(task=BackgroundTaskType.ENDPOINT_REPLAY)
    assert svix.background_task.list(other_kind).data == []
    assert status_of(lambda: stranger.background_task.get(started.id)) == 404
    assert stranger.background_task.list().data == []


def test_recover_refuses_a_window_that_ends_before_it_starts_and_a_disabled_endpoint(
    svix: Svix, app_id: str, receiver: Receiver
) -> None:
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(_path("refused"))))
    backwards = RecoverIn(since=datetime(2026, 1, 2, tzinfo=UTC), until=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(HTTPValidationError):
        svix.endpoint.recover(app_id, endpoint.id, backwards)
    svix.endpoint.patch(app_id, endpoint.id, EndpointPatch(disabled=True))
    window = RecoverIn(since=datetime(2026, 1, 1, tzinfo=UTC))
    assert status_of(lambda: svix.endpoint.recover(app_id, endpoint.id, window)) == 400
    assert svix.background_task.list().data == []
