"""Keyset pages whose sort key rows share: none is lost or repeated at a page boundary.

Every listing pages on a unique key (an id, or `msgId` among one endpoint's pairs) except the dead
letters, which page on their arrival time: refused queue messages often arrive together. They page
on (receivedAt, id). Against the Cosmos server, which serves that ORDER BY only from the
container's composite index, as Azure does. About 0.8 s per order: 9 writes and a dozen queries.
(The endpoints a message lists page in memory: tests/unit/test_page_of_keys.py.)
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.clock import utcnow
from shared.pagination import ListParams, Order
from shared.services import dead_letters
from shared.services.registry import Services

# Two letters before the tie, five sharing one arrival time, two after: pages of two split the tie.
TIED = 5
LIMIT = 2


async def _record(services: Services, tenant: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The letters' ids, oldest first (ties by id)."""
    moment = utcnow()
    offsets = [-2, -1, *[0] * TIED, 1, 2]
    letters = []
    for number, offset in enumerate(offsets):
        monkeypatch.setattr(dead_letters, "utcnow", lambda offset=offset: moment + timedelta(seconds=offset))
        letter = await services.dead_letters.record(tenant, "refused", "{}", f"q-{number}")
        letters.append((letter["receivedAt"], letter["id"]))
    assert len({received for received, _ in letters}) == len(offsets) - TIED + 1
    return [doc_id for _, doc_id in sorted(letters)]


async def _walk(services: Services, tenant: str, order: Order) -> tuple[list[list[str]], str | None]:
    """Every page from the first on, and the last page's `prevIterator`."""
    pages: list[list[str]] = []
    iterator: str | None = None
    while True:
        page = await services.dead_letters.list_page(tenant, ListParams(LIMIT, iterator, order))
        pages.append([letter.id for letter in page["data"]])
        if page["done"]:
            return pages, page["prevIterator"]
        iterator = page["iterator"]


@pytest.mark.parametrize("order", ["descending", "ascending"])
async def test_dead_letters_that_arrived_together_page_without_loss_or_repeat(
    services: Services, tenant: str, monkeypatch: pytest.MonkeyPatch, order: Order
) -> None:
    oldest_first = await _record(services, tenant, monkeypatch)
    expected = oldest_first if order == "ascending" else oldest_first[::-1]

    pages, prev_iterator = await _walk(services, tenant, order)

    assert [doc_id for page in pages for doc_id in page] == expected
    assert all(len(page) == LIMIT for page in pages[:-1])
    # And back from the last page, through the same boundaries inside the tie.
    back: list[list[str]] = []
    while prev_iterator is not None:
        page = await services.dead_letters.list_page(tenant, ListParams(LIMIT, prev_iterator, order))
        if not page["data"]:
            break
        back.append([letter.id for letter in page["data"]])
        prev_iterator = page["prevIterator"]
    assert [doc_id for page in reversed(back) for doc_id in page] + pages[-1] == expected
