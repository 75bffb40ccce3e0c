"""The sweeper against the Cosmos server: what it finds, and that it finds each piece of lost work once.

The sweeps here run in-process with no grace period; each test puts the sweep cursor just before
its own messages, so what other tests wrote earlier stays out of the window.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from shared.clock import from_wire, to_wire, utcnow
from shared.delivery.sender import AttemptResult
from shared.models import ApplicationIn, AttemptTrigger, EndpointIn, MessageIn, MessageStatus
from shared.services.attempts import DestinationUpdate
from shared.services.delivery import RetryJob
from shared.services.registry import Services
from shared.services.sweeper import MAX_WINDOW_SECONDS, STRANDED_PER_TENANT, Sweeper
from shared.store.base import MESSAGES
from shared.store.schema import SWEEP_CURSOR_ID, SWEEP_CURSOR_KEY, SWEEP_CURSOR_TYPE, MessageDoc


@pytest.fixture
async def sweeper(services: Services) -> AsyncIterator[Sweeper]:
    settings = services.settings.model_copy(update={"sweep_grace_seconds": 0})
    yield Sweeper(services.store, settings, services.attempts)
    # Hosts of later tests sweep this database too: they start afresh, not from this test's cursor.
    await services.store.delete(MESSAGES, SWEEP_CURSOR_KEY, SWEEP_CURSOR_ID)


async def _put_cursor(services: Services, at: str, **fields: str) -> None:
    tenant_id, app_id = SWEEP_CURSOR_KEY
    doc = {"id": SWEEP_CURSOR_ID, "type": SWEEP_CURSOR_TYPE, "tenantId": tenant_id, "appId": app_id, "at": at}
    await services.store.upsert(MESSAGES, {**doc, **fields})


async def _message(services: Services, tenant: str, endpoints: int = 1) -> tuple[MessageDoc, list[str]]:
    app, _ = await services.applications.create(tenant, ApplicationIn(name="sweep"))
    ids = []
    for n in range(endpoints):
        endpoint = await services.endpoints.create(
            tenant, app["id"], EndpointIn.model_validate({"url": f"http://127.0.0.1:9/{n}"})
        )
        ids.append(endpoint["id"])
    message = await services.messages.create(
        tenant, app["id"], MessageIn.model_validate({"eventType": "a", "payload": {}})
    )
    return message, ids


def _mine(jobs: list[RetryJob], tenant: str) -> list[tuple[str, str, int]]:
    return sorted((job.msg_id, job.endpoint_id, job.attempts) for job in jobs if job.tenant_id == tenant)


async def test_a_message_never_sent_is_found_once_for_each_endpoint(
    services: Services, sweeper: Sweeper, tenant: str
) -> None:
    message, endpoint_ids = await _message(services, tenant, endpoints=2)
    await _put_cursor(services, to_wire(from_wire(message["timestamp"]) - timedelta(seconds=1)))

    sweep = await sweeper.sweep()
    assert _mine(sweep.unsent, tenant) == sorted((message["id"], ep, 0) for ep in endpoint_ids)
    await sweeper.finish(sweep, [])

    # The cursor moved past it, and it carries a dispatch marker now: even a sweep that reads the
    # same window again does not send it twice.
    again = await sweeper.sweep()
    assert _mine(again.unsent, tenant) == []
    await _put_cursor(services, to_wire(from_wire(message["timestamp"]) - timedelta(seconds=1)))
    assert _mine((await sweeper.sweep()).unsent, tenant) == []


async def test_a_sent_message_is_not_unsent_and_a_settled_pair_is_not_stranded(
    services: Services, sweeper: Sweeper, tenant: str
) -> None:
    message, (endpoint_id,) = await _message(services, tenant)
    await _put_cursor(services, to_wire(from_wire(message["timestamp"]) - timedelta(seconds=1)))
    await services.attempts.record_round(
        message, [DestinationUpdate(endpoint_id, MessageStatus.SUCCESS, None, None)]
    )
    sweep = await sweeper.sweep()
    assert _mine(sweep.unsent, tenant) == []
    assert _mine(sweep.stranded, tenant) == []


async def test_an_overdue_pending_pair_is_stranded_and_resumes_after_its_scheduled_attempts(
    services: Services, sweeper: Sweeper, tenant: str
) -> None:
    message, (endpoint_id, later_id) = await _message(services, tenant, endpoints=2)
    failed = AttemptResult(500, "", 3, success=False)
    first = services.attempts.attempt_doc(message, endpoint_id, failed, url="http://127.0.0.1:9/0")
    # A first round that failed for one endpoint, its next attempt overdue (its workflow never
    # started), and one whose next attempt is still ahead.
    await services.attempts.record_round(
        message,
        [
            DestinationUpdate(endpoint_id, MessageStatus.PENDING, utcnow() - timedelta(seconds=30), first),
            DestinationUpdate(later_id, MessageStatus.PENDING, utcnow() + timedelta(hours=1), None),
        ],
    )
    # A manual resend since then: it does not use up a scheduled retry.
    await services.attempts.record(
        message,
        endpoint_id,
        failed,
        url="http://127.0.0.1:9/0",
        trigger=AttemptTrigger.MANUAL,
        next_attempt=utcnow() - timedelta(seconds=20),
        pair_status=MessageStatus.PENDING,
    )
    # The scan of stranded pairs starts at this tenant, whatever other tests left stranded.
    await _put_cursor(services, to_wire(utcnow()), strandedAfter=tenant[:-1])

    sweep = await sweeper.sweep()
    stranded = [job for job in sweep.stranded if job.tenant_id == tenant]
    assert [(job.msg_id, job.endpoint_id) for job in stranded] == [(message["id"], endpoint_id)]
    (resumed,) = await sweeper.resume(stranded)
    assert (resumed.attempts, resumed.retry_in) == (1, 0)
    assert resumed.instance_id == stranded[0].instance_id


async def test_after_a_long_outage_a_sweep_reads_a_bounded_window(
    services: Services, sweeper: Sweeper
) -> None:
    long_ago = utcnow() - timedelta(days=2)
    await _put_cursor(services, to_wire(long_ago))
    sweep = await sweeper.sweep()
    assert abs((sweep.next_cursor - long_ago).total_seconds() - MAX_WINDOW_SECONDS) < 1
    await sweeper.finish(sweep, [])
    moved = await services.store.read(MESSAGES, SWEEP_CURSOR_KEY, SWEEP_CURSOR_ID)
    assert moved is not None and from_wire(moved["at"]) == sweep.next_cursor


async def test_an_unsent_scheduled_message_still_waits_for_its_time(
    services: Services, sweeper: Sweeper, tenant: str
) -> None:
    app, _ = await services.applications.create(tenant, ApplicationIn(name="later"))
    await services.endpoints.create(
        tenant, app["id"], EndpointIn.model_validate({"url": "http://127.0.0.1:9/"})
    )
    later = utcnow() + timedelta(minutes=30)
    message = await services.messages.create(
        tenant,
        app["id"],
        MessageIn.model_validate({"eventType": "a", "payload": {}, "deliverAt": to_wire(later)}),
    )
    await _put_cursor(services, to_wire(from_wire(message["timestamp"]) - timedelta(seconds=1)))
    (job,) = [job for job in (await sweeper.sweep()).unsent if job.tenant_id == tenant]
    assert 1790 < job.retry_in <= 1800


async def test_a_message_whose_workflow_did_not_start_is_found_again(
    services: Services, sweeper: Sweeper, tenant: str
) -> None:
    message, _ = await _message(services, tenant)
    await _put_cursor(services, to_wire(from_wire(message["timestamp"]) - timedelta(seconds=1)))
    sweep = await sweeper.sweep()
    mine = [job for job in sweep.unsent if job.tenant_id == tenant]
    await sweeper.finish(sweep, not_started=mine)
    assert _mine((await sweeper.sweep()).unsent, tenant) == [(mine[0].msg_id, mine[0].endpoint_id, 0)]


async def _stranded_pairs(services: Services, tenant: str, count: int) -> list[str]:
    """`count` pending pairs of one message, overdue since different times; their endpoint ids,
    oldest first."""
    message, endpoint_ids = await _message(services, tenant, endpoints=count)
    # Written in an order unrelated to their due times: the sweep must sort, not trust the store.
    overdue = [utcnow() - timedelta(minutes=10, seconds=n) for n in range(count)]
    random.shuffle(overdue)
    await services.attempts.record_round(
        message,
        [
            DestinationUpdate(ep, MessageStatus.PENDING, due, None)
            for ep, due in zip(endpoint_ids, overdue, strict=True)
        ],
    )
    return [ep for _, ep in sorted(zip(overdue, endpoint_ids, strict=True))]


async def test_stranded_pairs_are_taken_oldest_first_and_capped_per_tenant(
    services: Services, sweeper: Sweeper
) -> None:
    """One tenant's stuck pairs cannot take every slot of a sweep, and each tenant's turn comes."""
    prefix = f"tenant-{uuid.uuid4().hex[:12]}"
    busy, quiet = f"{prefix}-a", f"{prefix}-b"
    busy_pairs = await _stranded_pairs(services, busy, STRANDED_PER_TENANT + 5)
    quiet_pairs = await _stranded_pairs(services, quiet, 2)
    # The last sweep stopped just before these tenants: this one starts with them.
    await _put_cursor(services, to_wire(utcnow()), strandedAfter=prefix)

    sweep = await sweeper.sweep()

    def taken(tenant: str) -> list[str]:
        return [job.endpoint_id for job in sweep.stranded if job.tenant_id == tenant]

    assert taken(busy) == busy_pairs[:STRANDED_PER_TENANT]
    assert taken(quiet) == quiet_pairs
    # The next sweep, once it starts after the busy tenant, serves the quiet one first.
    await _put_cursor(services, to_wire(utcnow()), strandedAfter=busy)
    later = await sweeper.sweep()
    assert later.stranded[0].tenant_id == quiet
    # Where a sweep stops is kept for the next one.
    await sweeper.finish(later, [])
    cursor = await services.store.read(MESSAGES, SWEEP_CURSOR_KEY, SWEEP_CURSOR_ID)
    assert cursor is not None and cursor.get("strandedAfter") == later.stranded_after
