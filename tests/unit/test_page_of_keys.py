"""Paging over keys in memory (the endpoints a message lists): each key once, none lost at a boundary."""

from __future__ import annotations

import pytest

from shared.pagination import ListParams, Order, page_of_keys


@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_a_key_listed_twice_across_a_page_boundary_is_answered_once(order: Order) -> None:
    # `ep_b` twice, as a replay that ran twice leaves a message's endpointIds.
    keys = ["ep_c", "ep_b", "ep_d", "ep_b"]
    expected = sorted(set(keys), reverse=order == "descending")
    pages: list[list[str]] = []
    iterator: str | None = None
    while True:
        chosen, page = page_of_keys(keys, ListParams(2, iterator, order))
        pages.append(chosen)
        if page.done:
            break
        iterator = page.iterator

    assert [key for chosen in pages for key in chosen] == expected
    assert [len(chosen) for chosen in pages] == [2, 1]
