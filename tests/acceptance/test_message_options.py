"""Message options through the svix SDK: channels, tags, transformationsParams, eventId as the
message's name, payload retention, precheck, and what the happy path costs in Cosmos requests."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from standardwebhooks import Webhook
from svix.api import (
    ApplicationIn,
    EndpointIn,
    EndpointPatch,
    MessageAttemptListAttemptedMessagesOptions,
    MessageAttemptListByMsgOptions,
    MessageGetOptions,
    MessageIn,
    MessageListOptions,
    MessagePrecheckIn,
    Svix,
    SvixOptions,
)
from svix.api.message import message_in_raw
from svix.exceptions import HttpError, HTTPValidationError

from shared.clock import to_wire, utcnow
from shared.services.registry import Services
from shared.store.base import MESSAGES
from shared.store.cosmos import CONTAINERS
from tests.support.hosts import serving_herald
from tests.support.receivers import Receiver
from tests.support.tokens import ACCEPTANCE_TENANT, Minter
from tests.support.waiting import eventually


def _attempts_recorded(svix: Svix, app_id: str, msg_id: str, count: int = 1) -> None:
    eventually(
        lambda: len(svix.message_attempt.list_by_msg(app_id, msg_id).data) >= count,
        what="no attempt recorded",
    )


def test_ten_channels_with_plus_reach_an_endpoint_listening_to_one(svix: Svix, app_id: str) -> None:
    listening = svix.endpoint.create(app_id, EndpointIn(url="https://a.example.com", channels=["team+ops"]))
    svix.endpoint.create(app_id, EndpointIn(url="https://b.example.com", channels=["elsewhere"]))
    channels = ["team+ops", *(f"project:{i}" for i in range(9))]
    msg = svix.message.create(app_id, MessageIn(event_type="a", payload={}, channels=channels))
    assert msg.channels == channels
    destinations = svix.message_attempt.list_attempted_destinations(app_id, msg.id).data
    assert [d.id for d in destinations] == [listening.id]
    with pytest.raises(HTTPValidationError) as caught:
        svix.message.create(app_id, MessageIn(event_type="a", payload={}, channels=[*channels, "eleventh"]))
    assert caught.value.detail[0].loc == ["body", "channels"]


def test_empty_tags_are_a_message_without_tags(svix: Svix, app_id: str) -> None:
    msg = svix.message.create(app_id, MessageIn(event_type="a", payload={}, tags=[]))
    assert svix.message.get(app_id, msg.id).tags == []


def test_a_raw_payload_is_sent_as_is_with_its_content_type_and_signed(
    svix: Svix, app_id: str, receiver: Receiver
) -> None:
    path = f"raw-{uuid.uuid4().hex[:8]}"
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 200)))
    raw = "name=Zoë&amount= 10 "
    msg = svix.message.create(app_id, message_in_raw("form.sent", raw, "application/x-www-form-urlencoded"))
    (request,) = receiver.wait_for(path, 1)
    assert request.body == raw.encode()
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    secret = svix.endpoint.get_secret(app_id, endpoint.id).key
    Webhook(secret).verify(request.body, request.headers, json_parse=False)
    assert request.headers["webhook-id"] == msg.id
    # What the SDK sent as the payload is what the message shows.
    assert svix.message.get(app_id, msg.id, MessageGetOptions(with_content=True)).payload == {}


def test_other_transformations_params_are_accepted_and_the_payload_goes_as_json(
    svix: Svix, app_id: str, receiver: Receiver
) -> None:
    path = f"params-{uuid.uuid4().hex[:8]}"
    svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 200)))
    svix.message.create(
        app_id, MessageIn(event_type="a", payload={"n": 1}, transformations_params={"region": "eu"})
    )
    (request,) = receiver.wait_for(path, 1)
    assert (request.body, request.headers["Content-Type"]) == (b'{"n":1}', "application/json")


def test_a_bad_content_type_for_a_raw_payload_is_422(http: httpx.Client, app_id: str) -> None:
    answer = http.post(
        f"/api/v1/app/{app_id}/msg",
        json={
            "eventType": "a",
            "payload": {},
            "transformationsParams": {
                "rawPayload": "x",
                "headers": {"content-type": "text/plain\nX-Evil: 1"},
            },
        },
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "transformationsParams"]
    assert http.get(f"/api/v1/app/{app_id}/msg").json()["data"] == []


def test_a_message_is_addressed_by_its_event_id_wherever_svix_says_id_or_uid(
    svix: Svix, app_id: str, receiver: Receiver
) -> None:
    path = f"evt-{uuid.uuid4().hex[:8]}"
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 200)))
    msg = svix.message.create(app_id, MessageIn(event_type="a", payload={"n": 1}, event_id="invoice-42"))
    receiver.wait_for(path, 1)
    _attempts_recorded(svix, app_id, msg.id)

    assert svix.message.get(app_id, "invoice-42").id == msg.id
    (attempt,) = svix.message_attempt.list_by_msg(app_id, "invoice-42").data
    assert attempt.msg_id == msg.id
    filtered = MessageAttemptListByMsgOptions(endpoint_id=endpoint.id)
    assert [a.id for a in svix.message_attempt.list_by_msg(app_id, "invoice-42", filtered).data] == [
        attempt.id
    ]
    assert svix.message_attempt.get(app_id, "invoice-42", attempt.id).id == attempt.id
    destinations = svix.message_attempt.list_attempted_destinations(app_id, "invoice-42").data
    assert [(d.id, d.status_text) for d in destinations] == [(endpoint.id, "success")]
    svix.message_attempt.resend(app_id, "invoice-42", endpoint.id)
    resent = receiver.wait_for(path, 2)
    assert resent[1].headers["webhook-id"] == msg.id
    with pytest.raises(HttpError) as caught:
        svix.message.get(app_id, "invoice-43")
    assert caught.value.status_code == 404


async def test_a_payload_retention_expires_the_payload_only(
    svix: Svix, app_id: str, receiver: Receiver, services: Services
) -> None:
    path = f"ret-{uuid.uuid4().hex[:8]}"
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 200)))
    msg = svix.message.create(
        app_id, MessageIn(event_type="a", payload={"pii": "x"}, payload_retention_hours=1)
    )
    days = svix.message.create(
        app_id, MessageIn(event_type="a", payload={"n": 2}, payload_retention_period=3)
    )
    receiver.wait_for(path, 2)
    _attempts_recorded(svix, app_id, msg.id)
    assert svix.message.get(app_id, msg.id, MessageGetOptions(with_content=True)).payload == {"pii": "x"}
    assert svix.message.get(app_id, days.id, MessageGetOptions(with_content=True)).payload == {"n": 2}

    # An hour passes (the local Cosmos server keeps what its `ttl` expires: Herald checks the time).
    pk = [ACCEPTANCE_TENANT, app_id]
    stored = await services.store.read(MESSAGES, pk, msg.id)
    assert stored is not None
    expired = to_wire(utcnow() - timedelta(seconds=1))
    await services.store.replace(MESSAGES, {**stored, "payloadExpiresAt": expired}, etag=stored["_etag"])

    assert svix.message.get(app_id, msg.id, MessageGetOptions(with_content=True)).payload == {}
    listed = {m.id: m.payload for m in svix.message.list(app_id, MessageListOptions(with_content=True)).data}
    assert listed == {msg.id: {}, days.id: {"n": 2}}
    # The message, its status and its attempt stay, as long as any message's.
    (attempt,) = svix.message_attempt.list_by_msg(app_id, msg.id).data
    assert attempt.response_status_code == 200
    (destination,) = svix.message_attempt.list_attempted_destinations(app_id, msg.id).data
    assert destination.status_text == "success"
    with_content = MessageAttemptListAttemptedMessagesOptions(with_content=True)
    received = svix.message_attempt.list_attempted_messages(app_id, endpoint.id, with_content).data
    assert {m.id: m.payload for m in received} == {msg.id: {}, days.id: {"n": 2}}
    with pytest.raises(HttpError) as caught:
        svix.message_attempt.resend(app_id, msg.id, endpoint.id)
    assert caught.value.status_code == 400
    assert len(receiver.requests(path)) == 2


def test_precheck_says_whether_any_enabled_endpoint_would_receive_the_message(
    svix: Svix, app_id: str
) -> None:
    def active(event_type: str, channels: list[str] | None = None) -> bool:
        return svix.message.precheck(
            app_id, MessagePrecheckIn(event_type=event_type, channels=channels)
        ).active

    assert active("invoice.paid") is False
    paid = svix.endpoint.create(
        app_id, EndpointIn(url="https://a.example.com", event_types=["invoice.paid"], channels=["eu"])
    )
    assert (active("invoice.paid", ["eu"]), active("invoice.paid", ["us"]), active("other", ["eu"])) == (
        True,
        False,
        False,
    )
    assert active("invoice.paid") is False  # the endpoint listens to a channel; the message has none
    svix.endpoint.patch(app_id, paid.id, EndpointPatch(disabled=True))
    assert active("invoice.paid", ["eu"]) is False
    svix.endpoint.create(app_id, EndpointIn(url="https://b.example.com"))
    assert (active("anything"), active("anything", ["team+ops"])) == (True, True)
    # Nothing was sent: a precheck stores no message.
    assert svix.message.list(app_id).data == []


def test_precheck_refuses_bad_input_and_unknown_applications(svix: Svix, http: httpx.Client) -> None:
    with pytest.raises(HttpError) as caught:
        svix.message.precheck(f"nope-{uuid.uuid4().hex[:6]}", MessagePrecheckIn(event_type="a"))
    assert caught.value.status_code == 404
    app_id = svix.application.create(ApplicationIn(name="Precheck")).id
    bad = http.post(f"/api/v1/app/{app_id}/msg/precheck/active", json={"eventType": "bad type!"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "eventType"]


# --- cost ----------------------------------------------------------------------------------------

_SAMPLE = re.compile(r"^herald_store_operations_total\{([^}]*)\} (\S+)$", re.MULTILINE)


def _cosmos_requests(herald_url: str, operator: str) -> dict[tuple[str, str], float]:
    """Herald's own count of its Cosmos requests (herald.store.operations), by container and operation."""
    text = httpx.get(f"{herald_url}/api/v1/metrics", headers={"authorization": f"Bearer {operator}"}).text
    counts: dict[tuple[str, str], float] = {}
    for labels, value in _SAMPLE.findall(text):
        fields = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if fields["container"] != "durable":
            key = (fields["container"], fields["operation"])
            counts[key] = counts.get(key, 0.0) + float(value)
    return counts


def _requests_for(
    herald_url: str, operator: str, send: Callable[[], None], receipts: Callable[[], int]
) -> dict[tuple[str, str], float]:
    """The Cosmos requests one message costs, from its create until its first round is recorded."""
    before = _cosmos_requests(herald_url, operator)
    expected = receipts() + 1
    send()
    eventually(lambda: receipts() >= expected, what="not delivered")

    def batches() -> float:
        key = ("messages", "batch")
        return _cosmos_requests(herald_url, operator).get(key, 0) - before.get(key, 0)

    # The round is written after the receipt; nothing more should follow it.
    eventually(lambda: batches() >= 2, what="the first round was not recorded")
    time.sleep(0.3)
    after = _cosmos_requests(herald_url, operator)
    # Only Cosmos containers: the poison-queue probe (a Storage queue) runs on its own timer.
    containers = {spec.name for spec in CONTAINERS}
    return {
        key: value - before.get(key, 0)
        for key, value in after.items()
        if value != before.get(key, 0) and key[0] in containers
    }


@pytest.fixture(scope="module")
def quiet_herald(herald_env: dict[str, str]) -> Iterator[str]:
    """A Herald of its own: no other test's retries, and no sweep (once a year), share its counts."""
    with serving_herald({**herald_env, "HERALD_SWEEP_SCHEDULE": "0 0 0 1 1 *"}) as url:
        yield url


def test_the_new_options_add_no_cosmos_request_to_the_happy_path(
    receiver: Receiver, quiet_herald: str, token: str, mint: Minter
) -> None:
    herald_url = quiet_herald
    operator = mint(ACCEPTANCE_TENANT, "herald.operator")
    svix = Svix(token, SvixOptions(server_url=herald_url))
    app_id = svix.application.create(ApplicationIn(name="Cost")).id
    path = f"cost-{uuid.uuid4().hex[:8]}"
    svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, 200)))

    def plain() -> None:
        svix.message.create(app_id, MessageIn(event_type="a", payload={"n": 1}))

    def with_options() -> None:
        svix.message.create(
            app_id,
            MessageIn(
                event_type="a",
                payload={"n": 2},
                event_id=f"cost-{uuid.uuid4().hex[:8]}",
                channels=["team+ops"],
                tags=[],
                transformations_params={"region": "eu"},
                payload_retention_hours=1,
            ),
        )

    def receipts() -> int:
        return len(receiver.requests(path))

    # The first message reads the application and its endpoints (then remembered for 5 s).
    _requests_for(herald_url, operator, plain, receipts)
    # Accepting is one batch and the first round another, as the README's cost table says.
    assert _requests_for(herald_url, operator, plain, receipts) == {("messages", "batch"): 2}
    assert _requests_for(herald_url, operator, with_options, receipts) == {("messages", "batch"): 2}
