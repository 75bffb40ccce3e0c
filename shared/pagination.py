"""Svix-style cursor pagination: `limit`, `iterator`, `order` in; `{data, iterator, prevIterator, done}` out.

The parameters are parsed from the query string by the list query models (`shared.queries`).

The iterator is the sort key of the last item returned; `prevIterator` is `-` plus the key of the
first one, which pages backwards. Keys are ids (or names), which sort by creation time, and each
is unique: a key two items share would lose one at a page boundary. A listing sorted by something
else pages on (that, id). Pages of stored documents are read by `shared/store/queries.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

Order = Literal["ascending", "descending"]
DEFAULT_LIMIT = 50
MAX_LIMIT = 250


@dataclass(frozen=True)
class ListParams:
    limit: int = DEFAULT_LIMIT
    iterator: str | None = None
    order: Order = "descending"


@dataclass(frozen=True)
class Page[R]:
    items: list[R]
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


def page_of_keys(keys: Sequence[str], params: ListParams) -> tuple[list[str], Page[str]]:
    """The same paging over a list already in memory (e.g. the endpoints a message lists).

    Each key once: a key listed twice (a replay that ran twice adopting one message) would show
    twice on a page, or be passed over at a boundary.
    """
    backwards = params.iterator is not None and params.iterator.startswith("-")
    cursor = params.iterator[1:] if backwards and params.iterator else params.iterator
    ascending = (params.order == "ascending") != backwards
    ordered = sorted(set(keys), reverse=not ascending)
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
