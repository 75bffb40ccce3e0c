"""Svix-style cursor pagination: `limit`, `iterator`, `order` in; `{data, iterator, prevIterator, done}` out.

The parameters are parsed from the query string by the list query models (`shared.queries`).

The iterator is the sort key of the last item returned; `prevIterator` is `-` plus the key of the
first one, which pages backwards. Keys are ids (or names), which sort by creation time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from shared.store.base import Doc, DocumentStore, PartitionKey

Order = Literal["ascending", "descending"]
DEFAULT_LIMIT = 50
MAX_LIMIT = 250


@dataclass(frozen=True)
class ListParams:
    limit: int = DEFAULT_LIMIT
    iterator: str | None = None
    order: Order = "descending"


@dataclass(frozen=True)
class Page:
    items: list[Doc]
    iterator: str | None
    prev_iterator: str | None
    done: bool

    def to_wire(self, data: Sequence[Any]) -> dict[str, Any]:
        return {
            "data": list(data),
            "iterator": self.iterator,
            "prevIterator": self.prev_iterator,
            "done": self.done,
        }


async def fetch_page(
    store: DocumentStore,
    container: str,
    pk: PartitionKey,
    *,
    where: str,
    parameters: Sequence[tuple[str, Any]],
    params: ListParams,
    key: str = "id",
) -> Page:
    """One page of documents matching `where` (a Cosmos SQL condition on alias `c`)."""
    backwards = params.iterator is not None and params.iterator.startswith("-")
    cursor = params.iterator[1:] if backwards and params.iterator else params.iterator
    ascending = (params.order == "ascending") != backwards
    clauses = [where]
    query_params = list(parameters)
    if cursor:
        clauses.append(f"c.{key} {'>' if ascending else '<'} @cursor")
        query_params.append(("@cursor", cursor))
    rows = await store.query(
        container,
        pk,
        where=" AND ".join(clauses),
        parameters=query_params,
        order_by=f"c.{key} {'ASC' if ascending else 'DESC'}",
        top=params.limit + 1,
    )
    more = len(rows) > params.limit
    rows = rows[: params.limit]
    if backwards:
        rows.reverse()
    if not rows:
        return Page(items=[], iterator=cursor if not backwards else None, prev_iterator=None, done=True)
    first, last = str(rows[0][key]), str(rows[-1][key])
    return Page(
        items=rows,
        iterator=last,
        prev_iterator=f"-{first}",
        done=not more if not backwards else False,
    )


def page_of_keys(keys: Sequence[str], params: ListParams) -> tuple[list[str], Page]:
    """The same paging over a list already in memory (e.g. the endpoints a message lists)."""
    backwards = params.iterator is not None and params.iterator.startswith("-")
    cursor = params.iterator[1:] if backwards and params.iterator else params.iterator
    ascending = (params.order == "ascending") != backwards
    ordered = sorted(keys, reverse=not ascending)
    if cursor:
        ordered = [k for k in ordered if (k > cursor if ascending else k < cursor)]
    chosen = ordered[: params.limit]
    more = len(ordered) > params.limit
    if backwards:
        chosen.reverse()
    if not chosen:
        return [], Page(items=[], iterator=cursor if not backwards else None, prev_iterator=None, done=True)
    return chosen, Page(
        items=[],
        iterator=chosen[-1],
        prev_iterator=f"-{chosen[0]}",
        done=not more if not backwards else False,
    )


# How many rows one filtered page may read (see `fetch_filtered_page`).
MAX_FILTERED_SCAN = 1000


async def fetch_filtered_page(
    store: DocumentStore,
    container: str,
    pk: PartitionKey,
    *,
    where: str,
    parameters: Sequence[tuple[str, Any]],
    params: ListParams,
    keep: Callable[[list[Doc]], Awaitable[list[Doc]]],
    key: str = "id",
) -> Page:
    """`fetch_page` under a condition no query can hold: `keep` chooses, from each batch of rows
    read (in reading order, away from the cursor), those to answer, keeping their order.

    It reads on until the page is full or nothing is left, so a page is short only when it is the
    last, or when it read `MAX_FILTERED_SCAN` rows without filling up: then `done` is false and
    the iterator continues after the last row read, so one call never reads without bound.
    """
    backwards = params.iterator is not None and params.iterator.startswith("-")
    iterator = params.iterator
    kept: list[Doc] = []
    scanned = 0
    last_read: str | None = None
    exhausted = False
    while len(kept) < params.limit and scanned < MAX_FILTERED_SCAN:
        # Each read asks for what is still missing: rows all kept cost one read, as unfiltered.
        batch = ListParams(limit=params.limit - len(kept), iterator=iterator, order=params.order)
        page = await fetch_page(
            store, container, pk, where=where, parameters=parameters, params=batch, key=key
        )
        rows = list(reversed(page.items)) if backwards else page.items
        scanned += len(rows)
        if rows:
            last_read = str(rows[-1][key])
            kept.extend(await keep(rows))
        # Backwards, `fetch_page` cannot tell the first page; a short read is the end.
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
        return Page(items=kept, iterator=str(kept[-1][key]), prev_iterator=f"-{last_read}", done=False)
    if not kept:
        return Page(items=[], iterator=last_read or params.iterator, prev_iterator=None, done=exhausted)
    return Page(items=kept, iterator=last_read, prev_iterator=f"-{kept[0][key]}", done=exhausted)
