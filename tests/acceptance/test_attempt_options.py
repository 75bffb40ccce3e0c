"""Attempt-list options through the svix SDK: every option it sends changes what it gets back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from svix.api import (
    ApplicationIn,
    EndpointIn,
    EndpointPatch,
    MessageAttemptListAttemptedMessagesOptions,
    MessageAttemptListByEndpointOptions,
    MessageAttemptListByMsgOptions,
    MessageIn,
    Svix,
)
from svix.exceptions import HttpError
from svix.models import MessageStatus, StatusCodeClass

from devhost.testing import free_port
from tests.delivery.receivers import Receiver, running_receiver


@dataclass
class Fanned:
    """One message sent to one endpoint per status-code class."""

    app_id: str
    msg_id: str
    endpoints: dict[str, str]  # name -> endpoint id
    codes: dict[str, int]  # name -> the answer's status code


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def _wait(check: object, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.fixture(scope="module")
def fanned(svix: Svix, receiver: Receiver) -> Fanned:
    """A message to endpoints answering 2xx, 3xx, 4xx, 5xx and to one that never answers (0)."""
    app_id = svix.application.create(ApplicationIn(name="classes")).id
    tag = uuid.uuid4().hex[:8]
    codes = {"ok": 204, "moved": 302, "missing": 404, "broken": 503, "silent": 0}
    endpoints = {}
    for name, code in codes.items():
        # Nothing listens on a port that was just free: the connection is refused, no answer.
        url = f"http://127.0.0.1:{free_port()}/x" if code == 0 else receiver.url(f"{name}-{tag}", code)
        endpoints[name] = svix.endpoint.create(app_id, EndpointIn(url=url, uid=f"{name}-uid")).id
    msg = svix.message.create(app_id, MessageIn(event_type="invoice.paid", payload={"n": 1}))
    _wait(
        lambda: len(svix.message_attempt.list_by_msg(app_id, msg.id).data) == len(codes),
        "every endpoint's first attempt was not recorded",
    )
    return Fanned(app_id, msg.id, endpoints, codes)


@pytest.mark.parametrize(
    ("code_class", "names"),
    [
        (StatusCodeClass.CODE_NONE, {"silent"}),
        (StatusCodeClass.CODE1XX, set()),
        (StatusCodeClass.CODE2XX, {"ok"}),
        (StatusCodeClass.CODE3XX, {"moved"}),
        (StatusCodeClass.CODE4XX, {"missing"}),
        (StatusCodeClass.CODE5XX, {"broken"}),
    ],
)
def test_status_code_class_keeps_only_that_class(
    svix: Svix, fanned: Fanned, code_class: StatusCodeClass, names: set[str]
) -> None:
    by_msg = svix.message_attempt.list_by_msg(
        fanned.app_id, fanned.msg_id, MessageAttemptListByMsgOptions(status_code_class=code_class)
    ).data
    assert {a.endpoint_id for a in by_msg} == {fanned.endpoints[name] for name in names}
    assert all(a.response_status_code // 100 * 100 == int(code_class) for a in by_msg if code_class)
    for name, endpoint_id in fanned.endpoints.items():
        by_endpoint = svix.message_attempt.list_by_endpoint(
            fanned.app_id, endpoint_id, MessageAttemptListByEndpointOptions(status_code_class=code_class)
        ).data
        assert len(by_endpoint) == (1 if name in names else 0), name


def test_an_unknown_status_code_class_is_a_422(http: httpx.Client, fanned: Fanned) -> None:
    answer = http.get(
        f"/api/v1/app/{fanned.app_id}/attempt/msg/{fanned.msg_id}", params={"status_code_class": 600}
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["query", "status_code_class"]


def test_a_parameter_the_route_does_not_declare_is_ignored(http: httpx.Client, fanned: Fanned) -> None:
    # `with_msg` belongs to the by-endpoint list alone; elsewhere it is ignored, as Svix ignores
    # query parameters a route does not have.
    for url in (
        f"/api/v1/app/{fanned.app_id}/attempt/msg/{fanned.msg_id}",
        f"/api/v1/app/{fanned.app_id}/endpoint/{fanned.endpoints['ok']}/msg",
    ):
        answer = http.get(url, params={"with_msg": "maybe"})
        assert answer.status_code == 200, (url, answer.text)
        assert answer.json() == http.get(url).json()
    # Where it is declared, it is checked.
    refused = http.get(
        f"/api/v1/app/{fanned.app_id}/attempt/endpoint/{fanned.endpoints['ok']}", params={"with_msg": "maybe"}
    )
    assert refused.status_code == 422
    assert refused.json()["detail"] == [
        {"loc": ["query", "with_msg"], "msg": "with_msg must be true or false", "type": "type_error.bool"}
    ]


def test_attempt_bodies_only_with_content(svix: Svix, http: httpx.Client, fanned: Fanned) -> None:
    missing = fanned.endpoints["missing"]
    # The 2.x SDK asks for no content unless told; Svix then answers "{}" for every body.
    default = svix.message_attempt.list_by_endpoint(fanned.app_id, missing).data
    assert [a.response for a in default] == ["{}"]
    by_msg = svix.message_attempt.list_by_msg(fanned.app_id, fanned.msg_id).data
    assert {a.response for a in by_msg} == {"{}"}
    full = svix.message_attempt.list_by_endpoint(
        fanned.app_id, missing, MessageAttemptListByEndpointOptions(with_content=True)
    ).data
    assert [a.response for a in full] == ["answer 404"]
    # Without the parameter (a caller other than the SDK), content is included, as in Svix.
    raw = http.get(f"/api/v1/app/{fanned.app_id}/attempt/endpoint/{missing}").json()
    assert [a["response"] for a in raw["data"]] == ["answer 404"]


def test_with_msg_embeds_the_message_without_its_payload(svix: Svix, fanned: Fanned) -> None:
    (plain,) = svix.message_attempt.list_by_endpoint(fanned.app_id, fanned.endpoints["ok"]).data
    assert plain.msg is None
    (attempt,) = svix.message_attempt.list_by_endpoint(
        fanned.app_id,
        fanned.endpoints["ok"],
        MessageAttemptListByEndpointOptions(with_msg=True, with_content=True),
    ).data
    assert attempt.msg is not None
    assert (attempt.msg.id, attempt.msg.event_type, attempt.msg.payload) == (
        fanned.msg_id,
        "invoice.paid",
        {},
    )


def test_endpoint_filter_takes_an_id_or_a_uid(svix: Svix, fanned: Fanned) -> None:
    for key in (fanned.endpoints["broken"], "broken-uid"):
        attempts = svix.message_attempt.list_by_msg(
            fanned.app_id, fanned.msg_id, MessageAttemptListByMsgOptions(endpoint_id=key)
        ).data
        assert [a.endpoint_id for a in attempts] == [fanned.endpoints["broken"]], key
    with pytest.raises(HttpError) as caught:
        svix.message_attempt.list_by_msg(
            fanned.app_id, fanned.msg_id, MessageAttemptListByMsgOptions(endpoint_id="no-such-uid")
        )
    assert caught.value.status_code == 404


def test_canceled_pairs_read_as_success_unless_statuses_are_expanded(
    svix: Svix, http: httpx.Client, receiver: Receiver
) -> None:
    app_id = svix.application.create(ApplicationIn(name="canceled")).id
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(f"later-{app_id}", 200)))
    msg = svix.message.create(
        app_id,
        MessageIn(event_type="a", payload={}, deliver_at=datetime.now(UTC) + timedelta(seconds=1)),
    )
    # Disabled before its scheduled attempt: the pair ends canceled, nothing is sent.
    svix.endpoint.patch(app_id, endpoint.id, EndpointPatch(disabled=True))

    def listed(**options: object) -> list[tuple[str, int]]:
        page = svix.message_attempt.list_attempted_messages(
            app_id,
            endpoint.id,
            MessageAttemptListAttemptedMessagesOptions(**options),  # type: ignore[arg-type]
        )
        return [(m.id, int(m.status)) for m in page.data]

    _wait(lambda: listed() == [(msg.id, MessageStatus.CANCELED)], "the pair was not canceled", timeout=15)
    assert receiver.requests(f"later-{app_id}") == []
    assert listed(status=MessageStatus.CANCELED) == [(msg.id, 4)]
    # The SDK expands statuses unless told not to; Svix's default for other callers is not to.
    assert listed(expanded_statuses=False) == [(msg.id, 0)]
    assert listed(expanded_statuses=False, status=MessageStatus.SUCCESS) == [(msg.id, 0)]
    raw = http.get(f"/api/v1/app/{app_id}/endpoint/{endpoint.id}/msg").json()["data"]
    assert [(m["id"], m["status"], m["statusText"]) for m in raw] == [(msg.id, 0, "success")]


def test_the_status_filter_of_attempted_messages_fills_every_page(svix: Svix, receiver: Receiver) -> None:
    app_id = svix.application.create(ApplicationIn(name="mixed")).id
    path = f"mixed-{app_id}"
    # Answers in turn: success, failure, success, ... (the last one, a failure, repeats for retries).
    answers = [200, 500, 200, 500, 500, 200, 500, 200, 200, 500]
    endpoint = svix.endpoint.create(app_id, EndpointIn(url=receiver.url(path, *answers)))
    sent = []
    for index in range(len(answers)):
        sent.append(svix.message.create(app_id, MessageIn(event_type="a", payload={"i": index})).id)
        receiver.wait_for(path, index + 1)
    wanted = {
        MessageStatus.SUCCESS: {m for m, code in zip(sent, answers, strict=True) if code == 200},
        # A failed first attempt with retries left is pending.
        MessageStatus.PENDING: {m for m, code in zip(sent, answers, strict=True) if code == 500},
    }
    _wait(
        lambda: len(svix.message_attempt.list_by_endpoint(app_id, endpoint.id).data) == len(answers),
        "the attempts were not recorded",
    )
    for status, ids in wanted.items():
        seen: list[str] = []
        iterator = None
        while True:
            page = svix.message_attempt.list_attempted_messages(
                app_id,
                endpoint.id,
                MessageAttemptListAttemptedMessagesOptions(status=status, limit=2, iterator=iterator),
            )
            assert {int(m.status) for m in page.data} <= {int(status)}
            seen += [m.id for m in page.data]
            if page.done:
                break
            # No page comes back short while there is more.
            assert len(page.data) == 2, (status, seen)
            iterator = page.iterator
        assert set(seen) == ids and len(seen) == len(ids), status
        assert seen == sorted(seen, reverse=True), "newest first"
