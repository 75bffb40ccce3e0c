"""Rate limits: token buckets in process and on a real Redis, and the API's 429."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import httpx
import pytest

from shared.ratelimit import MemoryRateLimiter, RedisRateLimiter, take_within
from tests.support.hosts import serving_herald
from tests.support.tokens import Minter


async def test_memory_bucket_allows_the_burst_then_refills() -> None:
    limiter = MemoryRateLimiter()
    decisions = [await limiter.take("k", rate=20, burst=3) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert 0 < decisions[-1].retry_after <= 0.05
    await asyncio.sleep(0.06)
    assert (await limiter.take("k", rate=20, burst=3)).allowed
    assert (await limiter.take("other", rate=20, burst=3)).allowed


async def test_redis_bucket_is_shared_by_every_limiter_using_it(redis_url: str) -> None:
    first, second = RedisRateLimiter(redis_url), RedisRateLimiter(redis_url)
    try:
        allowed = [(await limiter.take("shared", rate=1, burst=4)).allowed for limiter in (first, second) * 3]
        assert allowed == [True, True, True, True, False, False]
        refused = await first.take("shared", rate=1, burst=4)
        assert 0 < refused.retry_after <= 1.0 and refused.remaining == 0
    finally:
        await first.close()
        await second.close()


async def test_an_unreachable_redis_degrades_to_local_buckets() -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0")
    try:
        assert (await limiter.take("k", rate=1, burst=1)).allowed
        assert not (await limiter.take("k", rate=1, burst=1)).allowed
    finally:
        await limiter.close()


async def test_delivery_throttle_reserves_later_tokens_instead_of_dropping() -> None:
    limiter = MemoryRateLimiter()
    dues = [await limiter.reserve("ep_1", rate=50, burst=1) for _ in range(5)]
    # Five deliveries at 50/s with a bucket of one: the first now, each next one 20 ms later.
    assert dues[0] == 0
    assert all(0.015 <= later - earlier <= 0.025 for earlier, later in itertools.pairwise(dues))
    # A reserved backlog holds the bucket below zero: a plain take waits for it too.
    refused = await limiter.take("ep_1", rate=50, burst=1)
    assert not refused.allowed and refused.retry_after >= 0.08


async def test_redis_reservations_are_shared_and_ordered(redis_url: str) -> None:
    first, second = RedisRateLimiter(redis_url), RedisRateLimiter(redis_url)
    try:
        dues = [await limiter.reserve("ep_shared", rate=2, burst=1) for limiter in (first, second) * 2]
        assert dues[0] == 0 and dues == sorted(dues) and 1.3 <= dues[-1] <= 1.6
    finally:
        await first.close()
        await second.close()


async def test_take_within_waits_at_most_as_long_as_allowed() -> None:
    limiter = MemoryRateLimiter()
    assert (await take_within(limiter, "k", rate=20, burst=1, wait=0)).allowed
    assert not (await take_within(limiter, "k", rate=20, burst=1, wait=0)).allowed
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await take_within(limiter, "k", rate=20, burst=1, wait=0.2)).allowed
    assert loop.time() - started < 0.2


@pytest.fixture(scope="module")
def limited_url(herald_env: dict[str, str], redis_url: str) -> Iterator[str]:
    env = {
        **herald_env,
        "HERALD_API_BURST": "3",
        "HERALD_API_RATE_PER_SECOND": "0.2",
        "HERALD_REDIS_URL": redis_url,
    }
    with serving_herald(env) as url:
        yield url


def test_the_api_answers_429_with_retry_after_per_tenant(limited_url: str, mint: Minter) -> None:
    noisy = {"authorization": f"Bearer {mint('t-noisy')}"}
    quiet = {"authorization": f"Bearer {mint('t-quiet')}"}
    statuses = [httpx.get(f"{limited_url}/api/v1/app", headers=noisy) for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    assert [r.headers["x-ratelimit-remaining"] for r in statuses[:3]] == ["2", "1", "0"]
    limited = statuses[-1]
    assert limited.json()["code"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1
    # Another tenant has its own bucket.
    assert httpx.get(f"{limited_url}/api/v1/app", headers=quiet).status_code == 200
