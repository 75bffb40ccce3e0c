"""Wire models of the Svix v1 core API (camelCase on the wire), with Svix's validation rules.

Input models validate; output models are what the official SDKs parse with strict pydantic models,
so every field they require is always present.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from shared.errors import ValidationFailedError

MAX_ENDPOINT_CHANNELS = 10
MAX_MESSAGE_CHANNELS = 10
MAX_MESSAGE_TAGS = 5
MAX_MEDIA_TYPE = 256
# Messages one bulk expunge may name: each costs a few requests, all made before the answer.
MAX_BULK_EXPUNGE = 100

Uid = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[a-zA-Z0-9\-_.]+$")]
EventTypeName = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[a-zA-Z0-9\-_.]+$")]
Channel = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[a-zA-Z0-9\-_.:+]+$")]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[a-zA-Z0-9\-_./\\#]+$")]
EventId = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[a-zA-Z0-9\-_.]+$")]
Url = Annotated[str, StringConstraints(min_length=1, max_length=65536, pattern=r"^https?://.+")]
ThrottleRate = Annotated[int, Field(ge=1, le=65535)]
Metadata = dict[str, str]


# type "/" subtype, then parameters of visible ASCII: the value goes out as a header as it is.
_MEDIA_TYPE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+/[!#$%&'*+\-.^_`|~0-9A-Za-z]+(\s*;[ -~\t]*)?")

_UID = TypeAdapter(Uid)
_EVENT_TYPE_NAME = TypeAdapter(EventTypeName)


def path_identifier(value: str, *, loc: list[str | int], event_type: bool = False) -> str:
    """A uid or event-type name taken from the path, held to the same rules as in a body."""
    try:
        return (_EVENT_TYPE_NAME if event_type else _UID).validate_python(value)
    except ValidationError:
        raise ValidationFailedError.single(
            loc, "must be 1 to 256 characters of letters, digits, '-', '_' and '.'"
        ) from None


class WireModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class MessageStatus(IntEnum):
    SUCCESS = 0
    PENDING = 1
    FAIL = 2
    SENDING = 3
    CANCELED = 4

    @property
    def text(self) -> str:
        return self.name.lower()


class AttemptTrigger(IntEnum):
    SCHEDULED = 0
    MANUAL = 1


# --- applications -------------------------------------------------------------------------------


class ApplicationIn(WireModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    uid: Uid | None = None
    throttle_rate: ThrottleRate | None = None
    metadata: Metadata | None = None


class ApplicationPatch(WireModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    uid: Uid | None = None
    throttle_rate: ThrottleRate | None = None
    metadata: Metadata | None = None


class ApplicationOut(WireModel):
    id: str
    uid: str | None = None
    name: str
    throttle_rate: int | None = None
    metadata: Metadata
    created_at: datetime
    updated_at: datetime


# --- endpoints ----------------------------------------------------------------------------------


class _SubscriberFields(WireModel):
    """The settings endpoints share with operational-webhook endpoints."""

    description: str | None = None
    uid: Uid | None = None
    throttle_rate: ThrottleRate | None = None
    disabled: bool | None = None
    event_types: list[EventTypeName] | None = Field(default=None, min_length=1)
    metadata: Metadata | None = None


class _EndpointFields(_SubscriberFields):
    channels: list[Channel] | None = Field(default=None, min_length=1, max_length=MAX_ENDPOINT_CHANNELS)


class EndpointUpdate(_EndpointFields):
    """PUT body (`EndpointUpsertIn` in the SDK)."""

    url: Url


class EndpointIn(EndpointUpdate):
    secret: str | None = None
    headers: dict[str, str] | None = None


class EndpointPatch(_EndpointFields):
    url: Url | None = None


class _SubscriberOut(WireModel):
    id: str
    uid: str | None = None
    url: str
    description: str
    throttle_rate: int | None = None
    disabled: bool
    event_types: list[str] | None = None
    metadata: Metadata
    created_at: datetime
    updated_at: datetime


class EndpointOut(_SubscriberOut):
    channels: list[str] | None = None


class EndpointSecretOut(WireModel):
    key: str


class EndpointSecretRotateIn(WireModel):
    key: str | None = None
    grace_period_seconds: Annotated[int, Field(ge=0, le=7 * 24 * 3600)] | None = None


class EndpointHeadersIn(WireModel):
    headers: dict[str, str]


class EndpointHeadersPatchIn(WireModel):
    headers: dict[str, str]
    delete_headers: list[str] | None = None


class EndpointHeadersOut(WireModel):
    headers: dict[str, str]
    sensitive: list[str]


class EndpointStats(WireModel):
    success: int
    pending: int
    sending: int
    fail: int
    canceled: int


# --- event types --------------------------------------------------------------------------------


class EventTypeUpdate(WireModel):
    """PUT body (`EventTypeUpsertIn` in the SDK)."""

    description: str
    archived: bool | None = None
    deprecated: bool | None = None
    schemas: dict[str, Any] | None = None
    group_name: str | None = None
    feature_flags: list[str] | None = None


class EventTypeIn(EventTypeUpdate):
    name: EventTypeName


class EventTypePatch(WireModel):
    description: str | None = None
    archived: bool | None = None
    deprecated: bool | None = None
    schemas: dict[str, Any] | None = None
    group_name: str | None = None
    feature_flags: list[str] | None = None


class EventTypeOut(WireModel):
    name: str
    description: str
    archived: bool
    deprecated: bool
    schemas: dict[str, Any] | None = None
    group_name: str | None = None
    feature_flags: list[str] | None = None
    created_at: datetime
    updated_at: datetime


# --- messages -----------------------------------------------------------------------------------


class TransformationsParams(BaseModel):
    """`transformationsParams`, kept as sent (other keys too); the keys Herald acts on are checked."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    raw_payload: str | None = Field(default=None, alias="rawPayload")
    headers: dict[str, str] | None = None

    @property
    def content_type(self) -> str | None:
        """The raw payload's `content-type` (the SDK writes the name in lower case; any case counts)."""
        for name, value in (self.headers or {}).items():
            if name.lower() == "content-type":
                return value
        return None

    @model_validator(mode="after")
    def _content_type_is_a_media_type(self) -> TransformationsParams:
        kind = self.content_type
        if kind is not None and (len(kind) > MAX_MEDIA_TYPE or not _MEDIA_TYPE.fullmatch(kind)):
            raise ValueError("headers.content-type must be a media type such as text/plain; charset=utf-8")
        return self


class MessageIn(WireModel):
    event_type: EventTypeName
    payload: dict[str, Any]
    event_id: EventId | None = None
    channels: list[Channel] | None = Field(default=None, min_length=1, max_length=MAX_MESSAGE_CHANNELS)
    # Svix sets no lower bound: `[]` is a message without tags.
    tags: list[Tag] | None = Field(default=None, max_length=MAX_MESSAGE_TAGS)
    application: ApplicationIn | None = None
    # Stored with the payload (and expiring with it). Herald runs no transformations, but honours
    # what the SDK's `message_in_raw` sends: `rawPayload` is the body, `headers.content-type` its type.
    transformations_params: TransformationsParams | None = None
    deliver_at: datetime | None = None
    payload_retention_period: Annotated[int, Field(ge=1, le=90)] | None = None
    payload_retention_hours: Annotated[int, Field(ge=1, le=90 * 24)] | None = None

    @model_validator(mode="after")
    def _one_retention_setting(self) -> MessageIn:
        if self.payload_retention_period is not None and self.payload_retention_hours is not None:
            raise ValueError("payloadRetentionPeriod and payloadRetentionHours are mutually exclusive")
        return self


class InboundMessage(MessageIn):
    """A message dropped on the inbound queue: the body of `POST /msg` plus its routing."""

    tenant_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    app_id: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None


class MessageOut(WireModel):
    id: str
    event_type: str
    event_id: str | None = None
    payload: dict[str, Any]
    channels: list[str] | None = None
    tags: list[str] | None = None
    timestamp: datetime
    deliver_at: datetime | None = None


class MessagePrecheckIn(WireModel):
    event_type: EventTypeName
    channels: list[Channel] | None = Field(default=None, min_length=1, max_length=MAX_MESSAGE_CHANNELS)


class MessagePrecheckOut(WireModel):
    active: bool


class BulkExpungeContentsIn(WireModel):
    # Message ids or eventIds: both follow the uid rules.
    ids: list[Uid] = Field(default_factory=list, max_length=MAX_BULK_EXPUNGE)


class BulkExpungeStatus(StrEnum):
    EXPUNGED = "expunged"
    NOT_FOUND = "not-found"


class BulkExpungeContentsOut(WireModel):
    # By the id or eventId the request named.
    results: dict[str, BulkExpungeStatus]


class MessageAttemptOut(WireModel):
    id: str
    msg_id: str
    endpoint_id: str
    url: str
    response: str
    response_status_code: int
    response_duration_ms: int
    status: MessageStatus
    status_text: str
    trigger_type: AttemptTrigger
    timestamp: datetime
    msg: MessageOut | None = None


class MessageEndpointOut(EndpointOut):
    """An endpoint a message was sent to, with the pair's delivery status."""

    status: MessageStatus
    status_text: str
    next_attempt: datetime | None = None


class EndpointMessageOut(MessageOut):
    """A message an endpoint received, with the pair's delivery status."""

    status: MessageStatus
    status_text: str
    next_attempt: datetime | None = None


class DeadLetterOut(WireModel):
    """An inbound-queue message Herald could not accept (Herald's own resource, not Svix's)."""

    id: str
    reason: str
    queue_message_id: str | None = None
    body: str
    received_at: datetime


T = TypeVar("T", bound=WireModel)


class ListResponse[T: WireModel](WireModel):
    data: list[T]
    iterator: str | None
    prev_iterator: str | None = None
    done: bool


# --- operational webhooks -----------------------------------------------------------------------


class OperationalWebhookEndpointUpsertIn(_SubscriberFields):
    """PUT body of an operational-webhook endpoint: an endpoint of the tenant's own, without channels."""

    url: Url


class OperationalWebhookEndpointIn(OperationalWebhookEndpointUpsertIn):
    secret: str | None = None
    headers: dict[str, str] | None = None


class OperationalWebhookEndpointOut(_SubscriberOut):
    pass


class OperationalWebhookEndpointSecretIn(EndpointSecretRotateIn):
    pass


class OperationalWebhookEndpointSecretOut(EndpointSecretOut):
    pass


class OperationalWebhookEndpointHeadersIn(EndpointHeadersIn):
    pass


class OperationalWebhookEndpointHeadersOut(EndpointHeadersOut):
    pass


# --- resend, recover and background tasks --------------------------------------------------------


class EmptyResponse(WireModel):
    pass


class BackgroundTaskStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


class BackgroundTaskType(StrEnum):
    """Svix's task types; Herald runs `endpoint.recover` (the others filter lists to nothing)."""

    ENDPOINT_REPLAY = "endpoint.replay"
    ENDPOINT_RECOVER = "endpoint.recover"
    APPLICATION_STATS = "application.stats"
    MESSAGE_BROADCAST = "message.broadcast"
    SDK_GENERATE = "sdk.generate"
    EVENT_TYPE_AGGREGATE = "event-type.aggregate"
    APPLICATION_PURGE_CONTENT = "application.purge_content"
    ENDPOINT_BULK_REPLAY = "endpoint.bulk-replay"


class RecoverIn(WireModel):
    since: datetime
    until: datetime | None = None

    @model_validator(mode="after")
    def _an_aware_window(self) -> RecoverIn:
        if self.since.tzinfo is None or (self.until is not None and self.until.tzinfo is None):
            raise ValueError("since and until must carry a timezone")
        if self.until is not None and self.until <= self.since:
            raise ValueError("until must be later than since")
        return self


class RecoverOut(WireModel):
    id: str
    status: BackgroundTaskStatus
    task: BackgroundTaskType
    updated_at: datetime


class ExpungeAllContentsOut(RecoverOut):
    pass


class BackgroundTaskOut(RecoverOut):
    data: dict[str, Any]
