"""Every way services find documents: typed point reads and named queries, each answering records.

This module and `cosmos.py` are the only ones that speak Cosmos SQL. Each query runs inside one
partition (the store adds its key) except those marked "across partitions", which only the sweeper
runs. Values travel as parameters, never in the text; the fragments here are fixed.

Lists page with Svix's cursors (`shared/pagination.py`) on a unique key: the id, or a field that
is unique among the rows the listing reads (`msgId` among one endpoint's pairs), or else (that
field, id), whose iterator is `<value>~<id>`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from shared.models import MessageStatus
from shared.pagination import ListParams, Page
from shared.store.base import (
    APPLICATIONS,
    DEAD_LETTERS,
    ENDPOINTS,
    EVENT_TYPES,
    MESSAGES,
    PORTAL_REVOCATIONS,
    DocumentStore,
    PartitionKey,
)
from shared.store.schema import (
    APPLICATION_TYPE,
    ATTEMPT_TYPE,
    BACKGROUND_TASK_TYPE,
    DESTINATION_TYPE,
    DISPATCHED_TYPE,
    ENDPOINT_TYPE,
    EVENT_TYPE_TYPE,
    MESSAGE_TYPE,
    AppHead,
    ApplicationDoc,
    AttemptAnswer,
    AttemptDoc,
    BackgroundTaskDoc,
    DeadLetterDoc,
    DestinationDoc,
    EndpointDoc,
    EndpointKind,
    EndpointSummary,
    EventTypeDoc,
    Kind,
    MessageDoc,
    MessageHead,
    RevocationDoc,
    StrandedPair,
    UnsentMessage,
    app_key,
    tenant_key,
)

Parameters = list[tuple[str, Any]]


# --- point reads -----------------------------------------------------------------------------------


async def read[R](store: DocumentStore, kind: Kind[R], pk: PartitionKey, doc_id: str) -> R | None:
    """The document of `kind` with this id, or None (none, or one of another kind)."""
    doc = await store.read(kind.container, pk, doc_id)
    if doc is None or (kind.type is not None and doc.get("type") != kind.type):
        return None
    return cast(R, doc)


async def read_each[R](
    store: DocumentStore, kind: Kind[R], pk: PartitionKey, doc_ids: Iterable[str]
) -> dict[str, R]:
    """The documents of `kind` among these ids, by id: one concurrent point read per distinct id."""
    unique = sorted(set(doc_ids))
    docs = await asyncio.gather(*(read(store, kind, pk, doc_id) for doc_id in unique))
    return {doc_id: doc for doc_id, doc in zip(unique, docs, strict=True) if doc is not None}


# --- filters ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """`[since, until)` on a timestamp; no `until`: up to now."""

    since: str | None = None
    until: str | None = None


@dataclass(frozen=True)
class MessageFilter:
    """Svix's list filters on messages; attempts and pairs carry their message's fields for them."""

    channel: str | None = None
    tag: str | None = None
    # None: any type; empty: none.
    event_types: tuple[str, ...] | None = None
    # Exclusive bounds on the message's timestamp.
    before: str | None = None
    after: str | None = None


@dataclass(frozen=True)
class AttemptFilter:
    # Their message's filters: an attempt carries its message's type, channels, tags and time.
    messages: MessageFilter = MessageFilter()
    endpoint_id: str | None = None
    msg_id: str | None = None
    # The stored statuses wanted (None: any).
    statuses: tuple[int, ...] | None = None
    # Svix's `status_code_class`: each class is its hundred, and 0 every code under 100.
    code_class: int | None = None


class _Conditions:
    """A WHERE clause on alias `c` built from fixed fragments, with its parameters."""

    def __init__(self, *fixed: tuple[str, Any]) -> None:
        self.clauses: list[str] = []
        self.parameters: Parameters = []
        for field, value in fixed:
            self.equal(field, value)

    def add(self, clause: str, *parameters: tuple[str, Any]) -> _Conditions:
        self.clauses.append(clause)
        self.parameters.extend(parameters)
        return self

    def equal(self, field: str, value: Any) -> _Conditions:
        name = f"@{field}{len(self.parameters)}"
        return self.add(f"c.{field} = {name}", (name, value))

    def compare(self, field: str, op: str, value: Any) -> _Conditions:
        if value is None:
            return self
        name = f"@{field}{len(self.parameters)}"
        return self.add(f"c.{field} {op} {name}", (name, value))

    def one_of(self, field: str, values: Sequence[Any] | None) -> _Conditions:
        if values is None:
            return self
        if not values:
            return self.add("false")
        names = [f"@{field}{len(self.parameters) + index}" for index in range(len(values))]
        return self.add(f"c.{field} IN ({', '.join(names)})", *zip(names, values, strict=True))

    def contains(self, array: str, value: str | None) -> _Conditions:
        if value is None:
            return self
        name = f"@{array}{len(self.parameters)}"
        return self.add(f"ARRAY_CONTAINS(c.{array}, {name})", (name, value))

    def window(self, field: str, window: Window) -> _Conditions:
        return self.compare(field, ">=", window.since).compare(field, "<", window.until)

    def messages(self, wanted: MessageFilter) -> _Conditions:
        self.contains("channels", wanted.channel).contains("tags", wanted.tag)
        self.one_of("eventType", wanted.event_types)
        return self.compare("timestamp", "<", wanted.before).compare("timestamp", ">", wanted.after)

    @property
    def where(self) -> str:
        return " AND ".join(self.clauses) or "true"


# --- the paging engine -----------------------------------------------------------------------------


async def _page[R](
    store: DocumentStore,
    container: str,
    pk: PartitionKey,
    conditions: _Conditions,
    params: ListParams,
    *,
    key: str = "id",
    ties: bool = False,
) -> Page[R]:
    """One page of the rows matching `conditions`, keyset-paged on `key` (and on id with `ties`:
    `key` is not unique, and a page boundary inside a run of equal keys would lose rows)."""
    backwards = params.iterator is not None and params.iterator.startswith("-")
    cursor = params.iterator[1:] if backwards and params.iterator else params.iterator
    ascending = (params.order == "ascending") != backwards
    op = ">" if ascending else "<"
    where = _Conditions().add(conditions.where, *conditions.parameters)
    if cursor:
        value, _, after_id = cursor.partition("~") if ties else (cursor, "", "")
        if after_id:
            where.add(
                f"(c.{key} {op} @cursor OR (c.{key} = @cursor AND c.id {op} @cursorId))",
                ("@cursor", value),
                ("@cursorId", after_id),
            )
        else:
            # Without an id (or from before iterators carried one): strictly past the key.
            where.add(f"c.{key} {op} @cursor", ("@cursor", value))
    direction = "ASC" if ascending else "DESC"
    rows = await store.query(
        container,
        pk,
        where=where.where,
        parameters=where.parameters,
        order_by=f"c.{key} {direction}" + (f", c.id {direction}" if ties else ""),
        top=params.limit + 1,
    )
    more = len(rows) > params.limit
    rows = rows[: params.limit]
    if backwards:
        rows.reverse()
    if not rows:
        return Page(items=[], iterator=cursor if not backwards else None, prev_iterator=None, done=True)

    def position(row: Any) -> str:
        return f"{row[key]}~{row['id']}" if ties else str(row[key])

    return Page(
        items=rows,
        iterator=position(rows[-1]),
        prev_iterator=f"-{position(rows[0])}",
        done=not more if not backwards else False,
    )


# How many rows one filtered page may read (see `_filtered_page`).
MAX_FILTERED_SCAN = 1000


async def _filtered_page[R](
    store: DocumentStore,
    container: str,
    pk: PartitionKey,
    conditions: _Conditions,
    params: ListParams,
    keep: Callable[[list[R]], Awaitable[list[R]]],
) -> Page[R]:
    """`_page` (by id) under a condition no query can hold: `keep` chooses, from each batch of rows
    read (in reading order, away from the cursor), those to answer, keeping their order.

    It reads on until the page is full or nothing is left, so a page is short only when it is the
    last, or when it read `MAX_FILTERED_SCAN` rows without filling up: then `done` is false and
    the iterator continues after the last row read, so one call never reads without bound.
    """
    backwards = params.iterator is not None and params.iterator.startswith("-")
    iterator = params.iterator
    kept: list[R] = []
    scanned = 0
    last_read: str | None = None
    exhausted = False
    while len(kept) < params.limit and scanned < MAX_FILTERED_SCAN:
        # Each read asks for what is still missing: rows all kept cost one read, as unfiltered.
        batch = ListParams(limit=params.limit - len(kept), iterator=iterator, order=params.order)
        page: Page[R] = await _page(store, container, pk, conditions, batch)
        rows = list(reversed(page.items)) if backwards else page.items
        scanned += len(rows)
        if rows:
            last_read = _id_of(rows[-1])
            kept.extend(await keep(rows))
        # Backwards, `_page` cannot tell the first page; a short read is the end.
        if not rows or (len(rows) < batch.limit if backwards else page.done):
            exhausted = True
            break
        iterator = f"-{last_read}" if backwards else last_read
    # Each read asked for no more than was missing, so every row read is answered or passed over:
    # the next page starts after the last row read.
    if backwards:
        kept.reverse()
        if not kept:
            return Page(
                items=[], iterator=None, prev_iterator=None if exhausted else f"-{last_read}", done=exhausted
            )
        return Page(items=kept, iterator=_id_of(kept[-1]), prev_iterator=f"-{last_read}", done=False)
    if not kept:
        return Page(items=[], iterator=last_read or params.iterator, prev_iterator=None, done=exhausted)
    return Page(items=kept, iterator=last_read, prev_iterator=f"-{_id_of(kept[0])}", done=exhausted)


def _id_of(row: object) -> str:
    return str(cast(dict[str, Any], row)["id"])


async def _count(store: DocumentStore, container: str, pk: PartitionKey, conditions: _Conditions) -> int:
    rows = await store.query(
        container, pk, select="VALUE COUNT(1)", where=conditions.where, parameters=conditions.parameters
    )
    return int(rows[0]) if rows else 0


# --- applications ----------------------------------------------------------------------------------


async def applications_page(store: DocumentStore, tenant_id: str, params: ListParams) -> Page[ApplicationDoc]:
    return await _page(
        store, APPLICATIONS, tenant_key(tenant_id), _Conditions(("type", APPLICATION_TYPE)), params
    )


async def applications_page_kept(
    store: DocumentStore,
    tenant_id: str,
    params: ListParams,
    keep: Callable[[list[ApplicationDoc]], Awaitable[list[ApplicationDoc]]],
) -> Page[ApplicationDoc]:
    """A page of the applications `keep` chooses (see `_filtered_page`)."""
    conditions = _Conditions(("type", APPLICATION_TYPE))
    return await _filtered_page(store, APPLICATIONS, tenant_key(tenant_id), conditions, params, keep)


async def application_heads(
    store: DocumentStore, tenant_id: str, *, after: str | None, limit: int
) -> list[AppHead]:
    """The next `limit` applications by id after `after` (from the first without)."""
    conditions = _Conditions(("type", APPLICATION_TYPE)).compare("id", ">", after)
    rows: list[AppHead] = await store.query(
        APPLICATIONS,
        tenant_key(tenant_id),
        select="c.id, c.uid",
        where=conditions.where,
        parameters=conditions.parameters,
        order_by="c.id ASC",
        top=limit,
    )
    return rows


async def background_tasks_page(
    store: DocumentStore,
    tenant_id: str,
    params: ListParams,
    *,
    status: str | None,
    task: str | None,
    app_id: str | None = None,
) -> Page[BackgroundTaskDoc]:
    """A page of the tenant's tasks; with `app_id`, of those whose scope names that application."""
    conditions = _Conditions(("type", BACKGROUND_TASK_TYPE))
    if app_id is not None:
        conditions.equal("appId", app_id)
    if status is not None:
        conditions.equal("status", status)
    if task is not None:
        conditions.equal("task", task)
    return await _page(store, APPLICATIONS, tenant_key(tenant_id), conditions, params)


# --- event types -----------------------------------------------------------------------------------


async def event_types_page(
    store: DocumentStore, tenant_id: str, params: ListParams, *, include_archived: bool
) -> Page[EventTypeDoc]:
    conditions = _Conditions(("type", EVENT_TYPE_TYPE))
    if not include_archived:
        conditions.add("NOT c.archived")
    return await _page(store, EVENT_TYPES, tenant_key(tenant_id), conditions, params)


async def event_types(store: DocumentStore, tenant_id: str) -> list[EventTypeDoc]:
    """Every event type of the tenant, archived ones included, by name."""
    conditions = _Conditions(("type", EVENT_TYPE_TYPE))
    rows: list[EventTypeDoc] = await store.query(
        EVENT_TYPES,
        tenant_key(tenant_id),
        where=conditions.where,
        parameters=conditions.parameters,
        order_by="c.id ASC",
    )
    return rows


# --- endpoints -------------------------------------------------------------------------------------


async def endpoints(
    store: DocumentStore, tenant_id: str, app_id: str, kind: EndpointKind
) -> list[EndpointDoc]:
    """Every endpoint of the application (of `kind`)."""
    conditions = _Conditions(("type", kind))
    rows: list[EndpointDoc] = await store.query(
        ENDPOINTS, app_key(tenant_id, app_id), where=conditions.where, parameters=conditions.parameters
    )
    return rows


async def endpoints_page(
    store: DocumentStore, tenant_id: str, app_id: str, kind: EndpointKind, params: ListParams
) -> Page[EndpointDoc]:
    return await _page(store, ENDPOINTS, app_key(tenant_id, app_id), _Conditions(("type", kind)), params)


async def endpoint_count(store: DocumentStore, tenant_id: str, app_id: str, kind: EndpointKind) -> int:
    return await _count(store, ENDPOINTS, app_key(tenant_id, app_id), _Conditions(("type", kind)))


async def endpoint_summaries(store: DocumentStore, tenant_id: str, app_id: str) -> list[EndpointSummary]:
    """What the application list's filters need of each of the application's endpoints."""
    conditions = _Conditions(("type", ENDPOINT_TYPE))
    rows: list[EndpointSummary] = await store.query(
        ENDPOINTS,
        app_key(tenant_id, app_id),
        select="c.disabled, c.url",
        where=conditions.where,
        parameters=conditions.parameters,
    )
    return rows


async def endpoint_partition_ids(store: DocumentStore, tenant_id: str, app_id: str) -> list[str]:
    """The id of every document in the application's `endpoints` partition, whatever its kind."""
    rows: list[str] = await store.query(ENDPOINTS, app_key(tenant_id, app_id), select="VALUE c.id")
    return rows


# --- messages --------------------------------------------------------------------------------------


async def newest_message_with_event_id(
    store: DocumentStore, tenant_id: str, app_id: str, event_id: str
) -> MessageDoc | None:
    conditions = _Conditions(("type", MESSAGE_TYPE), ("eventId", event_id))
    rows: list[MessageDoc] = await store.query(
        MESSAGES,
        app_key(tenant_id, app_id),
        where=conditions.where,
        parameters=conditions.parameters,
        order_by="c.id DESC",
        top=1,
    )
    return rows[0] if rows else None


async def messages_page(
    store: DocumentStore, tenant_id: str, app_id: str, params: ListParams, wanted: MessageFilter
) -> Page[MessageDoc]:
    conditions = _Conditions(("type", MESSAGE_TYPE)).messages(wanted)
    return await _page(store, MESSAGES, app_key(tenant_id, app_id), conditions, params)


async def messages_for_endpoint_page(
    store: DocumentStore,
    tenant_id: str,
    app_id: str,
    endpoint_id: str,
    params: ListParams,
    wanted: MessageFilter,
) -> Page[MessageDoc]:
    """The messages the endpoint was chosen for (by their `endpointIds`)."""
    conditions = _Conditions(("type", MESSAGE_TYPE)).contains("endpointIds", endpoint_id).messages(wanted)
    return await _page(store, MESSAGES, app_key(tenant_id, app_id), conditions, params)


async def destinations_page(
    store: DocumentStore,
    tenant_id: str,
    app_id: str,
    endpoint_id: str,
    statuses: Sequence[int],
    params: ListParams,
    wanted: MessageFilter,
) -> Page[DestinationDoc]:
    """The endpoint's pairs in `statuses`, paged on `msgId`: one pair per message and endpoint."""
    conditions = _Conditions(("type", DESTINATION_TYPE), ("endpointId", endpoint_id))
    conditions.one_of("status", statuses).messages(wanted)
    return await _page(store, MESSAGES, app_key(tenant_id, app_id), conditions, params, key="msgId")


async def attempts_page(
    store: DocumentStore, tenant_id: str, app_id: str, params: ListParams, wanted: AttemptFilter
) -> Page[AttemptDoc]:
    conditions = _Conditions(("type", ATTEMPT_TYPE))
    if wanted.msg_id is not None:
        conditions.equal("msgId", wanted.msg_id)
    if wanted.endpoint_id is not None:
        conditions.equal("endpointId", wanted.endpoint_id)
    conditions.messages(wanted.messages).one_of("status", wanted.statuses)
    if wanted.code_class is not None:
        conditions.compare("responseStatusCode", ">=", wanted.code_class)
        conditions.compare("responseStatusCode", "<", wanted.code_class + 100)
    return await _page(store, MESSAGES, app_key(tenant_id, app_id), conditions, params)


async def messages_missing_endpoint(
    store: DocumentStore,
    tenant_id: str,
    app_id: str,
    endpoint_id: str,
    window: Window,
    *,
    after: str | None,
    limit: int,
) -> list[MessageDoc]:
    """The window's next `limit` messages by id after `after` that do not list the endpoint."""
    conditions = _Conditions(("type", MESSAGE_TYPE)).window("timestamp", window)
    conditions.add("NOT ARRAY_CONTAINS(c.endpointIds, @ep)", ("@ep", endpoint_id)).compare("id", ">", after)
    rows: list[MessageDoc] = await store.query(
        MESSAGES,
        app_key(tenant_id, app_id),
        where=conditions.where,
        parameters=conditions.parameters,
        order_by="c.id ASC",
        top=limit,
    )
    return rows


async def destinations_of_endpoint(
    store: DocumentStore,
    tenant_id: str,
    app_id: str,
    endpoint_id: str,
    window: Window,
    *,
    after: str | None,
    limit: int,
    status: int | None = None,
    wanted: MessageFilter | None = None,
) -> list[DestinationDoc]:
    """The endpoint's next `limit` pairs by message id after `after`, of messages in the window."""
    conditions = _Conditions(("type", DESTINATION_TYPE), ("endpointId", endpoint_id))
    conditions.window("timestamp", window).compare("msgId", ">", after)
    if status is not None:
        conditions.equal("status", status)
    conditions.messages(wanted or MessageFilter())
    rows: list[DestinationDoc] = await store.query(
        MESSAGES,
        app_key(tenant_id, app_id),
        where=conditions.where,
        parameters=conditions.parameters,
        order_by="c.msgId ASC",
        top=limit,
    )
    return rows


async def attempt_answers(
    store: DocumentStore, tenant_id: str, app_id: str, endpoint_id: str, msg_ids: Sequence[str]
) -> list[AttemptAnswer]:
    """The answer of every attempt of these messages to the endpoint (none for no messages)."""
    if not msg_ids:
        return []
    conditions = _Conditions(("type", ATTEMPT_TYPE), ("endpointId", endpoint_id)).one_of("msgId", msg_ids)
    rows: list[AttemptAnswer] = await store.query(
        MESSAGES,
        app_key(tenant_id, app_id),
        where=conditions.where,
        parameters=conditions.parameters,
        select="c.id, c.msgId, c.responseStatusCode",
    )
    return rows


async def attempt_triggers(
    store: DocumentStore, tenant_id: str, app_id: str, msg_id: str, endpoint_id: str
) -> list[int]:
    """The trigger (`AttemptTrigger`) of every attempt of one message-endpoint pair."""
    conditions = _Conditions(("type", ATTEMPT_TYPE), ("msgId", msg_id), ("endpointId", endpoint_id))
    rows: list[int] = await store.query(
        MESSAGES,
        app_key(tenant_id, app_id),
        select="VALUE c.triggerType",
        where=conditions.where,
        parameters=conditions.parameters,
    )
    return rows


# What expunging a message needs of it: never its payload (up to 1 MiB each).
_MESSAGE_HEAD = "c.id, c.tenantId, c.appId, c.expunged, c.payloadExpiresAt"


async def message_heads_up_to(
    store: DocumentStore, tenant_id: str, app_id: str, until: str | None, *, after: str | None, limit: int
) -> list[MessageHead]:
    """The next `limit` messages by id after `after` among those stored at or before `until` (no
    `until`: up to now)."""
    conditions = (
        _Conditions(("type", MESSAGE_TYPE)).compare("timestamp", "<=", until).compare("id", ">", after)
    )
    rows: list[MessageHead] = await store.query(
        MESSAGES,
        app_key(tenant_id, app_id),
        where=conditions.where,
        parameters=conditions.parameters,
        select=_MESSAGE_HEAD,
        order_by="c.id ASC",
        top=limit,
    )
    return rows


async def message_destination_count(store: DocumentStore, tenant_id: str, app_id: str, window: Window) -> int:
    """The message-endpoint pairs of the messages stored in the window."""
    conditions = _Conditions(("type", MESSAGE_TYPE)).window("timestamp", window)
    rows = await store.query(
        MESSAGES,
        app_key(tenant_id, app_id),
        select="VALUE SUM(ARRAY_LENGTH(c.endpointIds))",
        where=conditions.where,
        parameters=conditions.parameters,
    )
    return int(rows[0]) if rows and rows[0] else 0


async def count_messages_for_endpoint(
    store: DocumentStore, tenant_id: str, app_id: str, endpoint_id: str, window: Window
) -> int:
    conditions = (
        _Conditions(("type", MESSAGE_TYPE)).contains("endpointIds", endpoint_id).window("timestamp", window)
    )
    return await _count(store, MESSAGES, app_key(tenant_id, app_id), conditions)


async def count_destinations(
    store: DocumentStore, tenant_id: str, app_id: str, endpoint_id: str, status: MessageStatus, window: Window
) -> int:
    """The endpoint's pairs in `status` of the messages stored in the window."""
    conditions = _Conditions(("type", DESTINATION_TYPE), ("endpointId", endpoint_id), ("status", int(status)))
    return await _count(store, MESSAGES, app_key(tenant_id, app_id), conditions.window("timestamp", window))


async def count_destinations_last_moved(
    store: DocumentStore, tenant_id: str, app_id: str, endpoint_id: str, status: MessageStatus, window: Window
) -> int:
    """The endpoint's pairs in `status` whose last move (attempt or cancellation) is in the window."""
    conditions = _Conditions(("type", DESTINATION_TYPE), ("endpointId", endpoint_id), ("status", int(status)))
    return await _count(
        store, MESSAGES, app_key(tenant_id, app_id), conditions.window("lastAttemptAt", window)
    )


async def count_attempts(
    store: DocumentStore, tenant_id: str, app_id: str, endpoint_id: str, status: MessageStatus, window: Window
) -> int:
    """The endpoint's attempts in `status` made in the window."""
    conditions = _Conditions(("type", ATTEMPT_TYPE), ("endpointId", endpoint_id), ("status", int(status)))
    return await _count(store, MESSAGES, app_key(tenant_id, app_id), conditions.window("timestamp", window))


# --- across partitions: the sweeper's ---------------------------------------------------------------


async def messages_stored_between(store: DocumentStore, window: Window) -> list[UnsentMessage]:
    """Across partitions: the messages stored in the window that are for any endpoint."""
    conditions = (
        _Conditions(("type", MESSAGE_TYPE)).add("ARRAY_LENGTH(c.endpointIds) > 0").window("timestamp", window)
    )
    rows: list[UnsentMessage] = await store.query_across(
        MESSAGES,
        select="c.id, c.tenantId, c.appId, c.endpointIds, c.timestamp, c.deliverAt, c.ttl",
        where=conditions.where,
        parameters=conditions.parameters,
    )
    return rows


async def dispatched_between(store: DocumentStore, window: Window) -> list[str]:
    """Across partitions: the ids of the messages stored in the window whose first round was written."""
    conditions = _Conditions(("type", DISPATCHED_TYPE)).window("timestamp", window)
    rows: list[str] = await store.query_across(
        MESSAGES, select="VALUE c.msgId", where=conditions.where, parameters=conditions.parameters
    )
    return rows


def _stranded(cutoff: str) -> _Conditions:
    """Pairs still pending well past their next attempt."""
    conditions = _Conditions(("type", DESTINATION_TYPE), ("status", int(MessageStatus.PENDING)))
    return conditions.add("IS_STRING(c.nextAttempt)").compare("nextAttempt", "<", cutoff)


async def stranded_pairs(
    store: DocumentStore, cutoff: str, tenant_id: str, *, limit: int
) -> list[StrandedPair]:
    """Across partitions: the tenant's `limit` stranded pairs due longest ago."""
    conditions = _stranded(cutoff).equal("tenantId", tenant_id)
    rows: list[StrandedPair] = await store.query_across(
        MESSAGES,
        select="c.tenantId, c.appId, c.msgId, c.endpointId",
        where=conditions.where,
        parameters=conditions.parameters,
        order_by="c.nextAttempt",
        top=limit,
    )
    return rows


async def next_tenant_with_stranded(store: DocumentStore, cutoff: str, *, after: str | None) -> str | None:
    """Across partitions: the first tenant in id order after `after` that has stranded pairs."""
    conditions = _stranded(cutoff).compare("tenantId", ">", after)
    rows = await store.query_across(
        MESSAGES,
        select="c.tenantId",
        where=conditions.where,
        parameters=conditions.parameters,
        order_by="c.tenantId",
        top=1,
    )
    return str(rows[0]["tenantId"]) if rows else None


# --- dead letters ----------------------------------------------------------------------------------


async def dead_letters_page(store: DocumentStore, tenant_id: str, params: ListParams) -> Page[DeadLetterDoc]:
    """By arrival, ties by id: refused queue messages often arrive together."""
    return await _page(
        store, DEAD_LETTERS, tenant_key(tenant_id), _Conditions(), params, key="receivedAt", ties=True
    )


# --- portal revocations ----------------------------------------------------------------------------
# Across tenants: every instance holds every revocation in force (see `shared.portal_tokens`).


async def revocations_in_force(store: DocumentStore, now: float) -> list[RevocationDoc]:
    rows: list[RevocationDoc] = await store.query_across(
        PORTAL_REVOCATIONS, where="c.until > @now", parameters=[("@now", now)]
    )
    return rows


async def revocations_written_since(store: DocumentStore, since: int) -> list[RevocationDoc]:
    """What was written from `since` (epoch seconds, Cosmos' `_ts`) on."""
    rows: list[RevocationDoc] = await store.query_across(
        PORTAL_REVOCATIONS, where="c._ts >= @since", parameters=[("@since", since)]
    )
    return rows
