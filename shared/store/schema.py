"""Every kind of document Herald stores: its record type, its `type` name, its id and its partition.

The one place that says what a document holds. Services build and read documents through these
records (TypedDicts: the documents stay the plain dicts the SDK reads and writes, at no cost on the
message path), so a misspelled field, type name or id format is a mypy error, not a bad document.

- `applications` (`tenant_key`): `ApplicationDoc`, `UidGuardDoc`, `BackgroundTaskDoc`,
  `EnvironmentSettingsDoc`, `RecoveryGuardDoc`
- `event-types` (`tenant_key`): `EventTypeDoc`
- `endpoints` (`app_key`): `EndpointDoc` (application and operational endpoints), `UidGuardDoc`,
  `BreakerDoc`
- `messages` (`app_key`): `MessageDoc`, `ContentDoc`, `EventGuardDoc`, `KeyGuardDoc`,
  `DestinationDoc`, `AttemptDoc`, `DispatchMarkerDoc`, `SweepCursorDoc` (in `SWEEP_CURSOR_KEY`)
- `idempotency` (`tenant_key`): `IdempotencyRecordDoc`
- `dead-letters` (`tenant_key`): `DeadLetterDoc`

Containers that hold several kinds tell them apart by `type`; the two that hold one kind carry none.
Ids the API shows are a type prefix and a KSUID (`shared/ids.py`); the others derive from what the
document belongs to, so that a point read finds them and concurrent creates of one collide.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, NotRequired, ReadOnly, TypedDict, cast

from shared import ids
from shared.store.base import (
    APPLICATIONS,
    DEAD_LETTERS,
    ENDPOINTS,
    EVENT_TYPES,
    IDEMPOTENCY,
    MESSAGES,
    PORTAL_REVOCATIONS,
    PartitionKey,
)

# --- type names ------------------------------------------------------------------------------------

APPLICATION_TYPE: Final = "app"
UID_GUARD_TYPE: Final = "uid-guard"
BACKGROUND_TASK_TYPE: Final = "background-task"
ENVIRONMENT_SETTINGS_TYPE: Final = "environment-settings"
RECOVERY_GUARD_TYPE: Final = "recovery-guard"
EVENT_TYPE_TYPE: Final = "event-type"
ENDPOINT_TYPE: Final = "endpoint"
OPERATIONAL_ENDPOINT_TYPE: Final = "operational-endpoint"
BREAKER_TYPE: Final = "breaker"
MESSAGE_TYPE: Final = "message"
CONTENT_TYPE: Final = "message-content"
EVENT_GUARD_TYPE: Final = "event-id"
KEY_GUARD_TYPE: Final = "idempotency-key"
DESTINATION_TYPE: Final = "destination"
ATTEMPT_TYPE: Final = "attempt"
DISPATCHED_TYPE: Final = "dispatched"
SWEEP_CURSOR_TYPE: Final = "sweep-cursor"

# Application endpoints and a tenant's operational-webhook endpoints: one record, two kinds.
EndpointKind = Literal["endpoint", "operational-endpoint"]
# The `appId` of a tenant's operational endpoints: their partition is [tenantId, "_operational"].
OPERATIONAL_APP: Final = "_operational"


# --- partition keys --------------------------------------------------------------------------------


def tenant_key(tenant_id: str) -> PartitionKey:
    """The partition of `applications`, `event-types`, `idempotency` and `dead-letters`."""
    return [tenant_id]


def app_key(tenant_id: str, app_id: str) -> PartitionKey:
    """The partition of `endpoints` and `messages`: one application's."""
    return [tenant_id, app_id]


class AppScoped(TypedDict):
    """What every document of `endpoints` and `messages` carries: the fields of its partition key."""

    tenantId: str
    appId: str


def key_of(doc: AppScoped) -> PartitionKey:
    """The partition of a document of `endpoints` or `messages`."""
    return [doc["tenantId"], doc["appId"]]


# --- records ---------------------------------------------------------------------------------------


class Stored(TypedDict):
    id: str


class Owned(Stored):
    """A document's id and tenant: what names the workflow of a background task."""

    tenantId: str


def etag(doc: Stored) -> str:
    """The version of a document read back (what a conditional write names): Cosmos sets `_etag`
    on every write, so it is no field of a record."""
    return str(cast(Mapping[str, Any], doc)["_etag"])


# applications -----------------------------------------------------------------------------------


class ApplicationDoc(Stored):
    type: Literal["app"]
    tenantId: str
    uid: str | None
    name: str
    throttleRate: int | None
    metadata: dict[str, str]
    createdAt: str
    updatedAt: str


class ApplicationChanges(TypedDict, total=False):
    """What an update may change of an application."""

    uid: str | None
    name: str
    throttleRate: int | None
    metadata: dict[str, str]


class UidGuardDoc(Stored):
    """Holds a caller-chosen `uid` for the document `targetId` (`applications` or `endpoints`)."""

    type: Literal["uid-guard"]
    tenantId: str
    # In `endpoints` only: the guard shares its application's partition.
    appId: NotRequired[str]
    uid: str
    targetId: str
    createdAt: str


class ReplayFilters(TypedDict):
    eventTypes: list[str] | None
    channel: str | None
    tag: str | None
    status: int | None
    statusCodeClass: int | None


class AppHead(TypedDict):
    """An application's id and uid (what usage statistics read of it)."""

    id: str
    uid: str | None


class BackgroundTaskDoc(Stored):
    """A long-running task; `data` is Svix's, the fields after it belong to the task's workflow."""

    type: Literal["background-task"]
    tenantId: str
    task: str
    status: str
    data: dict[str, Any]
    createdAt: str
    updatedAt: str
    ttl: int
    cursor: str | None
    # Recoveries and replays.
    appId: NotRequired[str]
    endpointId: NotRequired[str]
    since: NotRequired[str]
    until: NotRequired[str | None]
    batches: NotRequired[int]
    # Bulk replays.
    filters: NotRequired[ReplayFilters]
    # Usage statistics: the applications named (None: all of them) and the names not found.
    apps: NotRequired[list[AppHead] | None]
    unresolvedAppIds: NotRequired[list[str]]


class TaskScope(TypedDict, total=False):
    """What a task's workflow keeps beside Svix's fields (which of them depends on the task); every
    task starts without a cursor."""

    appId: str
    endpointId: str
    since: str
    until: str | None
    batches: int
    filters: ReplayFilters
    apps: list[AppHead] | None
    unresolvedAppIds: list[str]


class BackgroundTaskChanges(TypedDict, total=False):
    status: str
    data: dict[str, Any]
    cursor: str | None
    batches: int


class EnvironmentSettingsDoc(Stored):
    type: Literal["environment-settings"]
    tenantId: str
    settings: dict[str, Any]
    createdAt: str
    updatedAt: str


class RecoveryGuardDoc(Stored):
    """Names the one recovery of an endpoint that may run."""

    type: Literal["recovery-guard"]
    tenantId: str
    endpointId: str
    taskId: str
    createdAt: str
    ttl: int


# event-types ------------------------------------------------------------------------------------


class EventTypeFields(TypedDict):
    """What an event type says (the rest of its document is its name and dates)."""

    description: str
    archived: bool
    deprecated: bool
    schemas: dict[str, Any] | None
    groupName: str | None
    featureFlags: list[str] | None


class EventTypeDoc(Stored, EventTypeFields):
    type: Literal["event-type"]
    tenantId: str
    name: str
    createdAt: str
    updatedAt: str


# endpoints --------------------------------------------------------------------------------------


class SealedSecret(TypedDict):
    # AES-GCM under a data key the KEK wraps (`shared/secretbox.py`).
    sealed: dict[str, Any]
    # An old key still signing until then; absent on the current key.
    expiresAt: NotRequired[str]


class EndpointFields(TypedDict):
    """An endpoint's settings, as a PUT gives them."""

    url: str
    uid: str | None
    description: str
    throttleRate: int | None
    disabled: bool
    eventTypes: list[str] | None
    channels: list[str] | None
    metadata: dict[str, str]
    version: int


# Why an endpoint is disabled: by its owner, failing too long, or answered 410 Gone.
DisabledReason = Literal["manual", "failing", "gone"]


class EndpointChanges(TypedDict, total=False):
    """What an update may change of an endpoint."""

    url: str
    uid: str | None
    description: str
    throttleRate: int | None
    disabled: bool
    eventTypes: list[str] | None
    channels: list[str] | None
    metadata: dict[str, str]
    version: int
    headers: dict[str, str]
    secrets: list[SealedSecret]
    disabledReason: DisabledReason | None
    disabledAt: str | None


class EndpointDoc(Stored, EndpointFields):
    type: EndpointKind
    tenantId: str
    appId: str
    headers: dict[str, str]
    secrets: list[SealedSecret]
    createdAt: str
    updatedAt: str
    # Why and since when it is disabled (endpoints disabled before these were recorded lack them).
    disabledReason: NotRequired[DisabledReason | None]
    disabledAt: NotRequired[str | None]


class Subscription(TypedDict, total=False):
    """What the fan-out reads of an endpoint (`messages.matches`); an absent filter takes all."""

    disabled: ReadOnly[bool]
    eventTypes: ReadOnly[list[str] | None]
    channels: ReadOnly[list[str] | None]


class EndpointSummary(TypedDict):
    """What an application list's filters read of each endpoint."""

    disabled: bool
    url: str


class BreakerDoc(Stored):
    """An endpoint's circuit: consecutive failures, and until when it is open."""

    type: Literal["breaker"]
    tenantId: str
    appId: str
    failures: int
    failingSince: str
    openUntil: str | None
    # A half-open circuit's one probe, in flight until then.
    probeUntil: NotRequired[str]


# messages ---------------------------------------------------------------------------------------


class PayloadState(TypedDict):
    """What tells whether a message's payload can still be shown or sent."""

    expunged: NotRequired[bool]
    payloadExpiresAt: NotRequired[str]
    # Set on a message read with its content (`with_content`) whose payload is gone; never stored.
    payloadExpired: NotRequired[bool]


class MessageHead(AppScoped, PayloadState):
    """The fields of a message a background batch reads (never its payload)."""

    id: str


class MessageDoc(Stored, AppScoped, PayloadState):
    type: Literal["message"]
    eventType: str
    eventId: str | None
    # Absent when the payload is kept apart (`ContentDoc`) for less than the message.
    payload: NotRequired[dict[str, Any]]
    transformationsParams: NotRequired[dict[str, Any] | None]
    channels: list[str] | None
    tags: list[str] | None
    timestamp: str
    deliverAt: str | None
    # The endpoints it is for, as the fan-out chose them (and those a replay added).
    endpointIds: list[str]
    ttl: int
    expiresAt: str
    # The application's throttleRate when it had one: delivery enforces it without a read.
    appThrottleRate: NotRequired[int]


class UnsentMessage(Stored, AppScoped):
    """What the sweeper reads of a message that may not have been sent."""

    endpointIds: list[str]
    timestamp: str
    deliverAt: str | None
    ttl: int


class ContentDoc(Stored, AppScoped):
    """A payload kept for less than its message: Cosmos deletes it at its own `ttl`."""

    type: Literal["message-content"]
    msgId: str
    payload: dict[str, Any]
    transformationsParams: NotRequired[dict[str, Any] | None]
    ttl: int
    expiresAt: str


class EventGuardDoc(Stored, AppScoped):
    """Holds a message's `eventId` unique per application for HERALD_EVENT_ID_TTL_SECONDS."""

    type: Literal["event-id"]
    eventId: str
    msgId: str
    createdAt: str
    ttl: int
    expiresAt: str


class KeyGuardDoc(Stored, AppScoped):
    """Holds an `idempotency-key` of a message create, with what its first request chose."""

    type: Literal["idempotency-key"]
    msgId: str
    fingerprint: str
    withContent: bool
    createdAt: str
    ttl: int
    expiresAt: str


class DestinationDoc(Stored, AppScoped):
    """A message-endpoint pair's status: the projection of its attempts."""

    type: Literal["destination"]
    msgId: str
    endpointId: str
    status: int
    lastAttemptAt: str
    nextAttempt: str | None
    eventType: str
    channels: list[str] | None
    tags: list[str] | None
    # The message's, so that lists by status page and filter as message lists do.
    timestamp: str
    updatedAt: str
    ttl: int


class StrandedPair(AppScoped):
    """What the sweeper reads of a pending pair past its next attempt."""

    msgId: str
    endpointId: str


class AttemptDoc(Stored, AppScoped):
    """One delivery attempt: the append-only log."""

    type: Literal["attempt"]
    msgId: str
    endpointId: str
    url: str
    response: str
    responseStatusCode: int
    responseDurationMs: int
    status: int
    triggerType: int
    timestamp: str
    eventType: str
    channels: list[str] | None
    tags: list[str] | None
    ttl: int


class AttemptAnswer(TypedDict):
    """What a bulk replay's status-code filter reads of an attempt."""

    id: str
    msgId: str
    responseStatusCode: int


class DispatchMarkerDoc(Stored, AppScoped):
    """Written with a message's first round: the sweeper resends messages that lack one."""

    type: Literal["dispatched"]
    msgId: str
    timestamp: str
    ttl: int


class SweepCursorDoc(Stored, AppScoped):
    """Where the sweeper reads on: message time, and the tenant after which stranded pairs."""

    type: Literal["sweep-cursor"]
    at: str
    # Absent from a cursor written before stranded pairs were swept tenant by tenant.
    strandedAfter: NotRequired[str | None]


# idempotency ------------------------------------------------------------------------------------


class StoredAnswer(TypedDict):
    status: int
    body: NotRequired[object]
    # The body, when it carries a secret: sealed as endpoint secrets are.
    sealedBody: NotRequired[dict[str, Any]]


class IdempotencyRecordDoc(Stored):
    """A claimed `idempotency-key` of an API request, and its answer once done."""

    tenantId: str
    state: Literal["pending", "done"]
    # The id seed of what the request creates, reused by a retry that takes the claim over.
    seed: str
    fingerprint: str
    leaseUntil: str
    expiresAt: str
    ttl: int
    response: NotRequired[StoredAnswer]


# dead-letters -----------------------------------------------------------------------------------


class DeadLetterDoc(Stored):
    """An inbound-queue message Herald could not accept, with the reason."""

    tenantId: str
    reason: str
    queueMessageId: str | None
    body: str
    receivedAt: str
    expiresAt: str
    ttl: int


# portal-revocations -----------------------------------------------------------------------------


class RevocationDoc(Stored):
    """An app portal logout (`tokenId` set) or expire-all (`tokenId` None) of one application.

    Times are epoch seconds: what it reaches was issued before `issuedBefore`; it takes effect at
    `effectiveAt` (an expire-all's grace) and is kept until `until`, when nothing it reaches can
    still be valid (Cosmos deletes it then, at `ttl`).
    """

    tenantId: str
    appId: str
    tokenId: str | None
    sessionIds: list[str] | None
    issuedBefore: float
    effectiveAt: float
    until: float
    ttl: int


# --- kinds: where each record lives and how it is told apart -------------------------------------


@dataclass(frozen=True)
class Kind[R]:
    """A record type's container and `type` (None in a container of one kind): what a typed point
    read checks (`queries.read`)."""

    container: str
    type: str | None


APPLICATION: Final = Kind[ApplicationDoc](APPLICATIONS, APPLICATION_TYPE)
BACKGROUND_TASK: Final = Kind[BackgroundTaskDoc](APPLICATIONS, BACKGROUND_TASK_TYPE)
ENVIRONMENT_SETTINGS: Final = Kind[EnvironmentSettingsDoc](APPLICATIONS, ENVIRONMENT_SETTINGS_TYPE)
RECOVERY_GUARD: Final = Kind[RecoveryGuardDoc](APPLICATIONS, RECOVERY_GUARD_TYPE)
EVENT_TYPE: Final = Kind[EventTypeDoc](EVENT_TYPES, EVENT_TYPE_TYPE)
BREAKER: Final = Kind[BreakerDoc](ENDPOINTS, BREAKER_TYPE)
MESSAGE: Final = Kind[MessageDoc](MESSAGES, MESSAGE_TYPE)
CONTENT: Final = Kind[ContentDoc](MESSAGES, CONTENT_TYPE)
EVENT_GUARD: Final = Kind[EventGuardDoc](MESSAGES, EVENT_GUARD_TYPE)
KEY_GUARD: Final = Kind[KeyGuardDoc](MESSAGES, KEY_GUARD_TYPE)
DESTINATION: Final = Kind[DestinationDoc](MESSAGES, DESTINATION_TYPE)
ATTEMPT: Final = Kind[AttemptDoc](MESSAGES, ATTEMPT_TYPE)
SWEEP_CURSOR: Final = Kind[SweepCursorDoc](MESSAGES, SWEEP_CURSOR_TYPE)
IDEMPOTENCY_RECORD: Final = Kind[IdempotencyRecordDoc](IDEMPOTENCY, None)
DEAD_LETTER: Final = Kind[DeadLetterDoc](DEAD_LETTERS, None)
REVOCATION: Final = Kind[RevocationDoc](PORTAL_REVOCATIONS, None)


def endpoint_kind(kind: EndpointKind) -> Kind[EndpointDoc]:
    return Kind[EndpointDoc](ENDPOINTS, kind)


def uid_guard_kind(container: str) -> Kind[UidGuardDoc]:
    return Kind[UidGuardDoc](container, UID_GUARD_TYPE)


# --- ids -------------------------------------------------------------------------------------------


def _digest(*parts: str) -> str:
    # Hashed: what they derive from may be 256 characters, Cosmos ids at most 255.
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def new_application_id(seed: str | None = None) -> str:
    return ids.new_id(ids.APP, seed)


def new_endpoint_id(seed: str | None = None) -> str:
    return ids.new_id(ids.ENDPOINT, seed)


def new_message_id() -> str:
    return ids.new_id(ids.MESSAGE)


def new_attempt_id() -> str:
    return ids.new_id(ids.ATTEMPT)


def new_background_task_id(seed: str | None = None) -> str:
    return ids.new_id(ids.BACKGROUND_TASK, seed)


def is_application_id(name: str) -> bool:
    """Whether a path's "id or uid" is an application id (uids may not start so)."""
    return name.startswith(f"{ids.APP}_")


def is_endpoint_id(name: str) -> bool:
    return name.startswith(f"{ids.ENDPOINT}_")


def is_message_id(name: str) -> bool:
    return name.startswith(f"{ids.MESSAGE}_")


def uid_guard_id(scope: str, uid: str) -> str:
    """The guard of `uid` in `scope` (the tenant for applications: "", the app for endpoints)."""
    return "uid~" + _digest(scope, uid)


def recovery_guard_id(endpoint_id: str) -> str:
    return f"recovery~{endpoint_id}"


# One per tenant.
ENVIRONMENT_SETTINGS_ID: Final = "~settings"


def event_type_id(name: str) -> str:
    """An event type's id is its name: unique per tenant, and what the API addresses it by."""
    return name


def breaker_id(endpoint_id: str) -> str:
    return f"breaker~{endpoint_id}"


def content_id(msg_id: str) -> str:
    return f"content~{msg_id}"


def event_guard_id(app_id: str, event_id: str) -> str:
    return "evt~" + _digest(app_id, event_id)


def key_guard_id(idempotency_key: str) -> str:
    return "idem~" + hashlib.sha256(idempotency_key.encode()).hexdigest()


def destination_id(msg_id: str, endpoint_id: str) -> str:
    return f"{msg_id}~{endpoint_id}"


def dispatch_marker_id(msg_id: str) -> str:
    return f"dispatched~{msg_id}"


# The sweeper's one cursor; its partition belongs to no tenant.
SWEEP_CURSOR_KEY: Final = ["~herald", "~sweeper"]
SWEEP_CURSOR_ID: Final = "sweep-cursor"


def idempotency_record_id(scope: str, idempotency_key: str) -> str:
    return "idem~" + _digest(scope, idempotency_key)


def dead_letter_id(queue_message_id: str | None) -> str:
    """Keyed by the queue message's id when it has one, so a redelivered message is recorded once."""
    return f"{ids.DEAD_LETTER}_{queue_message_id}" if queue_message_id else ids.new_id(ids.DEAD_LETTER)


def token_revocation_id(token_id: str) -> str:
    """A logout's id: one per token, so logging out twice writes one record."""
    return f"token-{token_id}"


def app_revocation_id() -> str:
    """An expire-all's id: each is a record of its own."""
    return f"app-{uuid.uuid4().hex}"
