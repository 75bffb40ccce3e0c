"""Query models: the query parameters each route reads, with their parsing rules and descriptions.

A route names its model once, as the type of its handler's `query` parameter (see
`blueprints._http.api_function`): the HTTP edge validates the query string with it (a 422 with
Svix's `loc: ["query", name]` errors) and the OpenAPI document lists exactly its fields. A
parameter no model declares is ignored, as Svix ignores unknown query parameters.

Every value arrives as a string. The types below carry the wire rules Herald has always applied:
booleans are `true`/`false`/`1`/`0` (empty: the default), timestamps ISO 8601 with a zone
(normalized to the stored form), list parameters bounded as Svix bounds them.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, ValidationInfo, WithJsonSchema
from pydantic_core import PydanticCustomError, PydanticUseDefault

from shared.clock import from_wire, to_wire
from shared.models import BackgroundTaskStatus, BackgroundTaskType, MessageStatus, StatusCodeClass
from shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListParams, Order


def _flag(value: Any, info: ValidationInfo) -> Any:
    if value is None or value == "":
        raise PydanticUseDefault
    text = str(value).lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise PydanticCustomError("type_error.bool", "{name} must be true or false", {"name": info.field_name})


def _timestamp(value: Any, info: ValidationInfo) -> str | None:
    if not value:
        return None
    try:
        # A `+` in a query string arrives as a space when the caller did not encode it.
        moment = from_wire(str(value).replace(" ", "+"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise PydanticCustomError(
            "value_error", "{name} must be an ISO 8601 time with a zone", {"name": info.field_name}
        )
    return to_wire(moment)


def _limit(value: Any) -> int:
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise PydanticCustomError("type_error.integer", "limit must be an integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise PydanticCustomError("value_error", "limit must be between 1 and {max}", {"max": MAX_LIMIT})
    return limit


def _order(value: Any) -> Any:
    if value not in ("ascending", "descending"):
        raise PydanticCustomError("value_error", "order must be 'ascending' or 'descending'")
    return value


def _message_status(value: Any) -> MessageStatus | None:
    if value is None:
        return None
    try:
        return MessageStatus(int(value))
    except ValueError:
        raise PydanticCustomError("value_error", "unknown status") from None


def _status_code_class(value: Any) -> StatusCodeClass | None:
    if value is None or value == "":
        return None
    try:
        return StatusCodeClass(int(value))
    except ValueError:
        allowed = ", ".join(str(int(member)) for member in StatusCodeClass)
        raise PydanticCustomError(
            "value_error", "status_code_class must be one of {allowed}", {"allowed": allowed}
        ) from None


def _one_of(kind: type[Enum]) -> BeforeValidator:
    """An enum parameter, empty meaning absent, refused with the values it may take."""

    def choose(value: Any, info: ValidationInfo) -> Any:
        if not value:
            return None
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(str(member.value) for member in kind)
            raise PydanticCustomError(
                "value_error",
                "{name} must be one of: {allowed}",
                {"name": info.field_name, "allowed": allowed},
            ) from None

    return BeforeValidator(choose)


# The wire types, then the parameters several routes share, each with the description the OpenAPI
# document shows.
Flag = Annotated[bool, BeforeValidator(_flag)]
Timestamp = Annotated[
    str | None, BeforeValidator(_timestamp), WithJsonSchema({"type": "string", "format": "date-time"})
]
Text = Annotated[str | None, BeforeValidator(lambda value: value or None)]

WithContent = Annotated[
    Flag, Field(description="When `true`, message payloads are included in the response.")
]
WithResponses = Annotated[Flag, Field(description="When `true`, attempts' response bodies are included.")]
ExpandedStatuses = Annotated[
    Flag,
    Field(
        description="When `true`, return the Canceled (4) status; when `false`, canceled attempts read "
        "as Success (0), for backwards compatibility."
    ),
]
StatusFilter = Annotated[
    MessageStatus | None,
    BeforeValidator(_message_status),
    Field(
        description="Filter on the status: Success (0), Pending (1), Failed (2), Sending (3) or Canceled (4)."
    ),
]
StatusCodeClassFilter = Annotated[
    StatusCodeClass | None,
    BeforeValidator(_status_code_class),
    Field(description="Filter on the class of the HTTP status code (0: no answer)."),
]
ChannelFilter = Annotated[Text, Field(description="Filter on the channel.")]
TagFilter = Annotated[Text, Field(description="Filter on the tag.")]
# Svix's SDKs send a set of event types comma-separated.
EventTypesFilter = Annotated[Text, Field(description="Filter on the event types (comma-separated).")]
Before = Annotated[Timestamp, Field(description="Only include items created before this time.")]
After = Annotated[Timestamp, Field(description="Only include items created after this time.")]
Since = Annotated[Timestamp, Field(description="Only count data from this time on.")]
Until = Annotated[Timestamp, Field(description="Only count data up to this time.")]

_LIST_FIELDS = frozenset({"limit", "iterator", "order"})


class _ListQuery(BaseModel):
    """Svix's cursor pagination (see `shared.pagination`); subclasses set the default order."""

    # The bounds before the validator, so they bound the integer (and the document shows them);
    # `_limit` words the refusal as Herald always has.
    limit: Annotated[
        int,
        Field(ge=1, le=MAX_LIMIT, description="Limit the number of returned items."),
        BeforeValidator(_limit),
    ] = DEFAULT_LIMIT
    iterator: Annotated[Text, Field(description="The iterator returned from a prior invocation.")] = None
    order: Order

    def list_params(self) -> ListParams:
        return ListParams(limit=self.limit, iterator=self.iterator, order=self.order)

    def filters(self) -> dict[str, Any]:
        """Every parameter but the list parameters, by name: what list services take as filters."""
        return {name: getattr(self, name) for name in type(self).model_fields if name not in _LIST_FIELDS}


_ORDER = "The sorting order of the returned items."


class AscendingListQuery(_ListQuery):
    order: Annotated[Order, BeforeValidator(_order), Field(description=_ORDER)] = "ascending"


class DescendingListQuery(_ListQuery):
    order: Annotated[Order, BeforeValidator(_order), Field(description=_ORDER)] = "descending"


# --- applications ------------------------------------------------------------------------------


class ApplicationListQuery(AscendingListQuery):
    exclude_apps_with_no_endpoints: Annotated[
        Flag, Field(description="Exclude applications that have no endpoints.")
    ] = False
    exclude_apps_with_disabled_endpoints: Annotated[
        Flag, Field(description="Exclude applications whose endpoints are all disabled.")
    ] = False
    exclude_apps_with_svix_play_endpoints: Annotated[
        Flag, Field(description="Exclude applications whose endpoints are all Svix Play endpoints.")
    ] = False


class CreateApplicationQuery(BaseModel):
    get_if_exists: Annotated[
        Flag, Field(description="Get an existing application (by `uid`), or create it if there is none.")
    ] = False


# --- event types -------------------------------------------------------------------------------


class EventTypeListQuery(AscendingListQuery):
    include_archived: Annotated[
        Flag, Field(description="When `true`, archived (deleted but not expunged) event types are included.")
    ] = False
    # Svix's default: without schemas (its SDKs always say which they want).
    with_content: Annotated[
        Flag, Field(description="When `true`, the full event type (with its schemas) is included.")
    ] = False


class DeleteEventTypeQuery(BaseModel):
    expunge: Annotated[
        Flag, Field(description="When `true`, the event type is deleted for good instead of archived.")
    ] = False


# --- messages ----------------------------------------------------------------------------------


class _MessageFilterQuery(DescendingListQuery):
    """Svix's filters on messages, which every list of messages or attempts takes: one field each
    of `shared.store.queries.MessageFilter` (read by `shared.services.messages.message_filter`)."""

    channel: ChannelFilter = None
    tag: TagFilter = None
    event_types: EventTypesFilter = None
    before: Before = None
    after: After = None


class MessageListQuery(_MessageFilterQuery):
    with_content: WithContent = True


class MessageContentQuery(BaseModel):
    """Whether a message's answer carries its payload."""

    with_content: WithContent = True


# --- attempts and delivery statuses -----------------------------------------------------------


class AttemptsByEndpointQuery(_MessageFilterQuery):
    status: StatusFilter = None
    status_code_class: StatusCodeClassFilter = None
    # Svix's defaults for callers other than its SDKs (which send both, false and true).
    with_content: WithResponses = True
    with_msg: Annotated[
        Flag, Field(description="When `true`, each attempt carries its message (without payload).")
    ] = False
    expanded_statuses: ExpandedStatuses = False


class AttemptsByMessageQuery(_MessageFilterQuery):
    status: StatusFilter = None
    status_code_class: StatusCodeClassFilter = None
    endpoint_id: Annotated[Text, Field(description="Filter on the endpoint (by id or uid).")] = None
    with_content: WithResponses = True
    expanded_statuses: ExpandedStatuses = False


class AttemptQuery(BaseModel):
    expanded_statuses: ExpandedStatuses = False


class EndpointMessageListQuery(_MessageFilterQuery):
    status: StatusFilter = None
    with_content: WithContent = True
    expanded_statuses: ExpandedStatuses = False


# --- endpoints ---------------------------------------------------------------------------------


class StatsWindowQuery(BaseModel):
    since: Since = None
    until: Until = None


# --- background tasks --------------------------------------------------------------------------


class BackgroundTaskListQuery(DescendingListQuery):
    status: Annotated[
        BackgroundTaskStatus | None, _one_of(BackgroundTaskStatus), Field(description="Filter on the status.")
    ] = None
    task: Annotated[
        BackgroundTaskType | None, _one_of(BackgroundTaskType), Field(description="Filter on the type.")
    ] = None
