"""Wire models: Svix's field names and validation rules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.models import ApplicationIn, EndpointIn, EventTypeIn, InboundMessage, MessageIn

pytestmark = pytest.mark.offline


def test_message_accepts_svix_camel_case_fields() -> None:
    msg = MessageIn.model_validate(
        {
            "eventType": "user.created",
            "payload": {"a": 1},
            "eventId": "evt-1",
            "channels": ["c1"],
            "tags": ["t"],
        }
    )
    assert msg.event_type == "user.created"
    assert msg.event_id == "evt-1"


@pytest.mark.parametrize(
    "body",
    [
        {"payload": {}},
        {"eventType": "x"},
        {"eventType": 5, "payload": {}},
        {"eventType": "x", "payload": []},
        {"eventType": "bad type!", "payload": {}},
        {"eventType": "x", "payload": {}, "channels": [f"c{i}" for i in range(11)]},
        {"eventType": "x", "payload": {}, "channels": ["a b"]},
        {"eventType": "x", "payload": {}, "tags": [f"t{i}" for i in range(6)]},
        {"eventType": "x", "payload": {}, "payloadRetentionPeriod": 5, "payloadRetentionHours": 5},
        {"eventType": "x", "payload": {}, "transformationsParams": {"rawPayload": {"not": "text"}}},
        {
            "eventType": "x",
            "payload": {},
            "transformationsParams": {"rawPayload": "a", "headers": {"content-type": "text/plain\r\nX: 1"}},
        },
        {"eventType": "x", "payload": {}, "transformationsParams": {"headers": {"Content-Type": "plain"}}},
    ],
)
def test_invalid_messages_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        MessageIn.model_validate(body)


def test_message_takes_svix_channels_empty_tags_and_transformations_params() -> None:
    msg = MessageIn.model_validate(
        {
            "eventType": "x",
            "payload": {},
            "channels": ["a+b", *(f"c{i}" for i in range(9))],
            "tags": [],
            "transformationsParams": {"rawPayload": "a,b", "headers": {"content-type": "text/csv"}, "k": 1},
        }
    )
    assert msg.tags == [] and msg.channels is not None and len(msg.channels) == 10
    assert msg.transformations_params is not None
    assert msg.transformations_params.content_type == "text/csv"
    # Kept as sent, keys Herald does not act on included.
    assert msg.transformations_params.model_dump(by_alias=True, exclude_unset=True) == {
        "rawPayload": "a,b",
        "headers": {"content-type": "text/csv"},
        "k": 1,
    }


def test_endpoint_allows_ten_channels_not_eleven() -> None:
    EndpointIn.model_validate({"url": "https://example.com/hook", "channels": [f"c{i}" for i in range(10)]})
    with pytest.raises(ValidationError):
        EndpointIn.model_validate(
            {"url": "https://example.com/hook", "channels": [f"c{i}" for i in range(11)]}
        )


def test_endpoint_url_must_be_http_or_https() -> None:
    with pytest.raises(ValidationError):
        EndpointIn.model_validate({"url": "ftp://example.com/hook"})


def test_application_uid_has_svix_charset() -> None:
    assert ApplicationIn.model_validate({"name": "A", "uid": "cust-1_a.b"}).uid == "cust-1_a.b"
    with pytest.raises(ValidationError):
        ApplicationIn.model_validate({"name": "A", "uid": "has space"})


def test_event_type_name_is_required() -> None:
    with pytest.raises(ValidationError):
        EventTypeIn.model_validate({"description": "no name"})


def test_inbound_message_needs_tenant_and_app() -> None:
    with pytest.raises(ValidationError):
        InboundMessage.model_validate({"eventType": "x", "payload": {}, "appId": "app"})
    inbound = InboundMessage.model_validate({"eventType": "x", "payload": {}, "appId": "a", "tenantId": "t"})
    assert (inbound.tenant_id, inbound.app_id) == ("t", "a")
