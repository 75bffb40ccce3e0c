"""Dead letters of the inbound queue, listed over HTTP (Herald's own route)."""

from __future__ import annotations

import uuid

import httpx

from shared.services.registry import Services
from tests.support.tokens import ACCEPTANCE_TENANT


async def test_the_tenants_dead_letters_are_listed_with_their_reason(
    herald_url: str, token: str, services: Services
) -> None:
    queue_id = f"q-{uuid.uuid4().hex[:8]}"
    tenant = ACCEPTANCE_TENANT
    await services.dead_letters.record(tenant, "body is not JSON", "{oops", queue_id)
    await services.dead_letters.record("someone-else", "body is not JSON", "{theirs", f"{queue_id}-b")
    async with httpx.AsyncClient(base_url=herald_url, headers={"authorization": f"Bearer {token}"}) as http:
        page = (await http.get("/api/v1/dead-letter", params={"limit": 250})).json()
    mine = [d for d in page["data"] if d["queueMessageId"] == queue_id]
    assert [(d["reason"], d["body"]) for d in mine] == [("body is not JSON", "{oops")]
    assert all(d["queueMessageId"] != f"{queue_id}-b" for d in page["data"])
