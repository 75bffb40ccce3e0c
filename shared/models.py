"""Wire models of the Svix v1 core API (camelCase on the wire), with Svix's validation rules.

Input models validate; output models are what the official SDKs parse with strict pydantic models,
so every field they require is always present.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    computed_field,
    model_validator,
)
from pydantic.alias_generators import to_camel, to_snake

from shared.errors import ValidationFailedError

MAX_ENDPOINT_CHANNELS = 10
MAX_MESSAGE_CHANNELS = 10
MAX_MESSAGE_TAGS = 5
MAX_MEDIA_TYPE = 256
# Messages one bulk expunge may name: each costs a few requests, all made before the answer.
MAX_BULK_EXPUNGE = 100

Uid = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[a-zA-Z0-9\-_.]+$")]
EventTypeName = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[a-zA-Z0-9\-_.]+$")]
# Feature flags and event-type group names follow the event-type name's rules (Svix's spec).
FeatureFlag = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[a-zA-Z0-9\-_.]+$")]
GroupName = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[a-zA-Z0-9\-_.]+$")]
Channel = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[a-zA-Z0-9\-_.:+]+$")]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[a-zA-Z0-9\-_./\\#]+$")]
EventId = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[a-zA-Z0-9\-_.]+$")]
Url = Annotated[str, StringConstraints(min_length=1, max_length=65536, pattern=r"^https?://.+")]
ThrottleRate = Annotated[int, Field(ge=1, le=65535)]
# In a PATCH, 0 (as Svix's spec allows there) means no limit, as an absent or null value does.
ThrottleRatePatch = Annotated[int, Field(ge=0, le=65535)]
# Svix's deprecated endpoint `version`: kept and answered (svix 1.x SDKs require it), never used.
EndpointVersion = Annotated[int, Field(ge=1, le=65535)]
Metadata = dict[str, str]

# The names svix 1.x SDKs send for the fields 2.x renamed: read as the new names (which win when
# both are given), so an endpoint created with a 1.x filter is filtered, and its rate is kept.
LEGACY_NAMES = {"filterTypes": "eventTypes", "rateLimit": "throttleRate"}


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


class _LegacyNames(WireModel):
    """An input model that also reads svix 1.x's names of its fields (`LEGACY_NAMES`)."""

    @model_validator(mode="before")
    @classmethod
    def _fold_legacy_names(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not LEGACY_NAMES.keys() & data.keys():
            return data
        folded = dict(data)
        for old, new in LEGACY_NAMES.items():
            if old not in folded:
                continue
            value = folded.pop(old)
            if folded.get(new, folded.get(to_snake(new))) is None:
                folded.pop(to_snake(new), None)
                folded[new] = value
        return folded


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


class StatusCodeClass(IntEnum):
    """The class of an attempt's HTTP status; `NONE` when no answer came (timeout, connection error)."""

    NONE = 0
    CODE_1XX = 100
    CODE_2XX = 200
    CODE_3XX = 300
    CODE_4XX = 400
    CODE_5XX = 500


# --- applications -------------------------------------------------------------------------------


class ApplicationIn(_LegacyNames):
    name: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    uid: Uid | None = None
    # Deliveries per second across the application's endpoints (each endpoint's own rate holds too).
    throttle_rate: ThrottleRate | None = None
    metadata: Metadata | None = None


class ApplicationPatch(_LegacyNames):
    name: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    uid: Uid | None = None
    throttle_rate: ThrottleRatePatch | None = None
    metadata: Metadata | None = None


class ApplicationOut(WireModel):
    id: str
    uid: str | None = None
    name: str
    throttle_rate: int | None = None
    metadata: Metadata
    created_at: datetime
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rate_limit(self) -> int | None:
        """svix 1.x's name of `throttleRate`."""
        return self.throttle_rate


# --- endpoints ----------------------------------------------------------------------------------


class _SubscriberFields(_LegacyNames):
    """The settings endpoints share with operational-webhook endpoints."""

    description: str | None = None
    uid: Uid | None = None
    throttle_rate: ThrottleRate | None = None
    disabled: bool | None = None
    event_types: list[EventTypeName] | None = Field(default=None, min_length=1)
    metadata: Metadata | None = None


class _EndpointFields(_SubscriberFields):
    channels: list[Channel] | None = Field(default=None, min_length=1, max_length=MAX_ENDPOINT_CHANNELS)
    version: EndpointVersion | None = None


class EndpointUpdate(_EndpointFields):
    """PUT body (`EndpointUpsertIn` in the SDK)."""

    url: Url


class EndpointIn(EndpointUpdate):
    secret: str | None = None
    headers: dict[str, str] | None = None


class EndpointPatch(_LegacyNames):
    """PATCH body: only the fields given change.

    As Svix's spec allows here, `eventTypes: []` and `channels: []` clear the filter (the endpoint
    then receives every event type, or every channel), as null does, and `throttleRate: 0` clears
    the limit. `secret` (sent by svix 1.x) rotates to that key, the old one signing for 24 h.
    """

    url: Url | None = None
    description: str | None = None
    uid: Uid | None = None
    throttle_rate: ThrottleRatePatch | None = None
    disabled: bool | None = None
    event_types: list[EventTypeName] | None = None
    channels: list[Channel] | None = Field(default=None, max_length=MAX_ENDPOINT_CHANNELS)
    metadata: Metadata | None = None
    version: EndpointVersion | None = None
    secret: str | None = None


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

    # svix 1.x SDKs read the old names (as Svix still answers them).
    @computed_field  # type: ignore[prop-decorator]
    @property
    def rate_limit(self) -> int | None:
        return self.throttle_rate

    @computed_field  # type: ignore[prop-decorator]
    @property
    def filter_types(self) -> list[str] | None:
        return self.event_types


class EndpointOut(_SubscriberOut):
    channels: list[str] | None = None
    # Required by svix 1.x SDKs; 1 unless the endpoint was given another.
    version: int = 1


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


class AttemptStatisticsData(WireModel):
    """Counts per period, oldest first (Svix's `AttemptStatisticsData`)."""

    success_count: list[int]
    failure_count: list[int]
    canceled_count: list[int]


class EndpointAttemptStats(WireModel):
    """GET .../attempt-stats: the window's totals (the SDK's `EndpointAttemptStats`) and the same
    counts per day (the shape of Svix's `AttemptStatisticsResponse`)."""

    success: int
    fail: int
    canceled: int
    start_date: datetime
    end_date: datetime
    period: str = "OneDay"
    data: AttemptStatisticsData


class EventExampleIn(WireModel):
    """POST .../send-example: the event type whose schema example to send, or the `payload` itself."""

    event_type: EventTypeName
    example_index: Annotated[int, Field(ge=0)] = 0
    payload: dict[str, Any] | None = None


# --- event types ---------------------------------------------------------------------------------


def _unique(flags: list[str]) -> list[str]:
    # Svix's spec makes feature flags a set: a repeated flag is the same flag.
    return list(dict.fromkeys(flags))


FeatureFlags = Annotated[list[FeatureFlag], Field(min_length=1), AfterValidator(_unique)]


def feature_flags_of(flags: list[str] | None, flag: str | None) -> list[str] | None:
    """One list from both spellings: `featureFlag` (svix 1.x SDKs) is a one-flag `featureFlags`."""
    merged = _unique([*([flag] if flag else []), *(flags or [])])
    return merged or None


class EventTypeUpdate(WireModel):
    """PUT body (`EventTypeUpsertIn` in the SDK)."""

    description: str
    archived: bool | None = None
    deprecated: bool | None = None
    schemas: dict[str, Any] | None = None
    group_name: GroupName | None = None
    feature_flags: FeatureFlags | None = None
    # The older SDKs' single flag, kept as one of `featureFlags`.
    feature_flag: FeatureFlag | None = None


class EventTypeIn(EventTypeUpdate):
    name: EventTypeName


class EventTypePatch(WireModel):
    description: str | None = None
    archived: bool | None = None
    deprecated: bool | None = None
    schemas: dict[str, Any] | None = None
    group_name: GroupName | None = None
    feature_flags: FeatureFlags | None = None
    feature_flag: FeatureFlag | None = None


class EventTypeOut(WireModel):
    name: str
    description: str
    archived: bool
    deprecated: bool
    schemas: dict[str, Any] | None = None
    group_name: str | None = None
    feature_flags: list[str] | None = None
    # What svix 1.x SDKs read: the first of `featureFlags`.
    feature_flag: str | None = None
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="after")
    def _first_flag(self) -> EventTypeOut:
        if self.feature_flag is None and self.feature_flags:
            self.feature_flag = self.feature_flags[0]
        return self


class EventTypeImportOpenApiIn(WireModel):
    """Event types from an OpenAPI document: `spec` (JSON) or `specRaw` (YAML or JSON text)."""

    dry_run: bool = False
    replace_all: bool = False
    spec: dict[str, Any] | None = None
    spec_raw: str | None = None


class EventTypeFromOpenApi(WireModel):
    name: str
    description: str
    schemas: dict[str, Any] | None = None
    deprecated: bool
    group_name: str | None = None
    feature_flags: list[str] | None = None


class EventTypeImportOpenApiOutData(WireModel):
    modified: list[str]
    # Svix writes this one field in snake case.
    to_modify: list[EventTypeFromOpenApi] | None = Field(default=None, alias="to_modify")


class EventTypeImportOpenApiOut(WireModel):
    data: EventTypeImportOpenApiOutData


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
    """Svix's task types; those Herald does not run filter lists to nothing."""

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


class ReplayIn(RecoverIn):
    """POST .../replay-missing: the window of the application's messages to look through."""


class BulkReplayIn(ReplayIn):
    """POST .../bulk-replay: the window of the endpoint's messages, and what narrows it."""

    event_types: list[EventTypeName] | None = None
    channel: Channel | None = None
    tag: Tag | None = None
    status: MessageStatus | None = None
    status_code_class: StatusCodeClass | None = None


class ReplayOut(RecoverOut):
    pass


class ExpungeAllContentsOut(RecoverOut):
    pass


class BackgroundTaskOut(RecoverOut):
    data: dict[str, Any]


# --- statistics ----------------------------------------------------------------------------------


class AppUsageStatsIn(WireModel):
    since: datetime
    until: datetime
    # Applications by id or uid; none: every application of the tenant.
    app_ids: list[Uid] | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _an_aware_window(self) -> AppUsageStatsIn:
        if self.since.tzinfo is None or self.until.tzinfo is None:
            raise ValueError("since and until must carry a timezone")
        if self.until <= self.since:
            raise ValueError("until must be later than since")
        return self


class AggregateEventTypesOut(RecoverOut):
    pass


class AppUsageStatsOut(RecoverOut):
    # What `appIds` named that is no application of the tenant.
    unresolved_app_ids: list[str]


# --- environment ---------------------------------------------------------------------------------


class EnvironmentIn(WireModel):
    event_types: list[EventTypeIn] | None = Field(default=None, max_length=1000)
    settings: dict[str, Any] | None = None
    # Svix's connectors (a cloud product); Herald has none, so a non-empty list is refused.
    connectors: list[dict[str, Any]] | None = None


class EnvironmentOut(WireModel):
    version: int = 1
    created_at: datetime
    event_types: list[EventTypeOut]
    settings: dict[str, Any] | None
    connectors: list[dict[str, Any]]


# --- app portal access ---------------------------------------------------------------------------


class AppPortalCapability(StrEnum):
    """Svix's names. ManageTransformations is accepted and grants nothing: Herald serves no
    transformations (see `shared/portal_tokens.py`)."""

    VIEW_BASE = "ViewBase"
    VIEW_ENDPOINT_SECRET = "ViewEndpointSecret"  # noqa: S105 (a capability, not a secret)
    MANAGE_ENDPOINT_SECRET = "ManageEndpointSecret"  # noqa: S105 (a capability, not a secret)
    MANAGE_TRANSFORMATIONS = "ManageTransformations"
    CREATE_ATTEMPTS = "CreateAttempts"
    MANAGE_ENDPOINT = "ManageEndpoint"


SessionId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9@_-]+$")]


class AppPortalAccessIn(WireModel):
    # Created when the path names no application (by uid), as Svix's get-or-create does.
    application: ApplicationIn | None = None
    # Svix's deprecated flag: true grants ViewBase alone, whatever `capabilities` says.
    read_only: bool | None = None
    # None: every capability Herald serves (Svix's default); a repeated one is the same one.
    capabilities: list[AppPortalCapability] | None = None
    # Accepted as Svix validates them; Herald's portal has no feature flags.
    feature_flags: Annotated[FeatureFlags, Field(max_length=25)] | None = None
    expiry: Annotated[int, Field(ge=3600, le=7 * 24 * 3600)] | None = None
    session_id: SessionId | None = None


class AppPortalAccessOut(WireModel):
    # The portal's address with the token in its fragment, which no server, log or referrer sees.
    url: str
    token: str


class ApplicationTokenExpireIn(WireModel):
    # Seconds the tokens stay valid (Svix's grace period); None: none.
    expiry: Annotated[int, Field(ge=0, le=3 * 24 * 3600)] | None = None
    # Only the tokens issued with one of these session ids; None: every token of the application.
    session_ids: list[SessionId] | None = Field(default=None, max_length=1000)


class EndpointHealthOut(WireModel):
    """GET .../endpoint/{endpoint_id}/health (Herald's own route): the endpoint's circuit breaker
    (see `shared.services.breaker`) and whether, why and since when it is disabled."""

    circuit: Literal["closed", "open", "half-open"]
    failures: int
    failing_since: datetime | None = None
    open_until: datetime | None = None
    disabled: bool
    # None for an endpoint created disabled, or disabled before Herald recorded why.
    disabled_reason: Literal["manual", "failing", "gone"] | None = None
    disabled_at: datetime | None = None


class PortalThemeOut(WireModel):
    """The portal's appearance from the tenant's settings over the deployment's (`shared.portal_theme`);
    a field left out is the portal's own default."""

    display_name: str | None = None
    logo_url: str | None = None
    primary_color: str | None = None
    primary_color_dark: str | None = None
    font_family: str | None = None


class PortalConfigOut(WireModel):
    """GET /api/v1/app/{app_id}/portal-config (Herald's own route): what the portal needs to know
    of the deployment and the tenant before it shows anything."""

    theme: PortalThemeOut
    # How far back messages and attempts are kept: the longest window the charts can ask for.
    retention_days: int
