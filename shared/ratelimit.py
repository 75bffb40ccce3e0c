"""Token-bucket rate limits: per tenant on the API, per endpoint on delivery.

The API takes a token or refuses (`take`). Delivery throttling never drops a request: a delivery
`reserve`s the next token, which may lie in the future (the bucket goes below zero), and waits
for it on a durable timer; each reservation comes after the one before, so a backlog drains at
the endpoint's rate with one wait per delivery instead of a retry each time a token refills.

With `HERALD_REDIS_URL` every instance shares one bucket per key through an atomic Lua script on
Redis (whose clock they also share); without it each process keeps its own buckets. When Redis is
unreachable the limiter falls back to its process-local buckets rather than failing requests: the
limit protects the service, it is not a correctness property.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    # Seconds until the next token is available (0 when allowed).
    retry_after: float


class RateLimiter(Protocol):
    async def take(self, key: str, *, rate: float, burst: int) -> Decision:
        """Takes one token from `key`'s bucket (refilled at `rate`/s, holding at most `burst`)."""

    async def reserve(self, key: str, *, rate: float, burst: int) -> float:
        """Reserves the next token of `key`'s bucket; returns the seconds until it is due (0: now)."""


class MemoryRateLimiter:
    def __init__(self, *, max_keys: int = 100_000) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._max_keys = max_keys

    async def take(self, key: str, *, rate: float, burst: int) -> Decision:
        tokens = self._tokens(key, rate=rate, burst=burst)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._store(key, tokens, burst=burst)
        retry = 0.0 if allowed else (1.0 - tokens) / rate
        return Decision(allowed=allowed, limit=burst, remaining=max(0, int(tokens)), retry_after=retry)

    async def reserve(self, key: str, *, rate: float, burst: int) -> float:
        tokens = self._tokens(key, rate=rate, burst=burst) - 1.0
        self._store(key, tokens, burst=burst)
        return 0.0 if tokens >= 0 else -tokens / rate

    def _tokens(self, key: str, *, rate: float, burst: int) -> float:
        now = time.monotonic()
        tokens, updated = self._buckets.get(key, (float(burst), now))
        return min(float(burst), tokens + (now - updated) * rate)

    def _store(self, key: str, tokens: float, *, burst: int) -> None:
        if len(self._buckets) >= self._max_keys and key not in self._buckets:
            # Bounded memory: full buckets carry no information, so they go first.
            self._buckets = {k: v for k, v in self._buckets.items() if v[0] < burst}
        self._buckets[key] = (tokens, time.monotonic())


# Both scripts: KEYS[1] the bucket; ARGV rate (tokens/s), burst. Each refills the bucket to now on
# Redis's clock, takes its token, then stores the bucket: the refill and the store are the same.
_REFILL = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - ts) * rate / 1000)
"""
_STORE = """
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
-- Kept until it would be full again (reservations make it negative, which takes longer).
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
"""

# Takes a token if there is one. Returns {allowed, remaining, retry_after_ms}.
_TAKE_SCRIPT = (
    _REFILL
    + """
local allowed = 0
local retry = 0
if tokens >= 1 then
  allowed = 1
  tokens = tokens - 1
else
  retry = math.ceil((1 - tokens) * 1000 / rate)
end
"""
    + _STORE
    + """
return {allowed, math.max(0, math.floor(tokens)), retry}
"""
)

# Takes the next token even below zero; returns the ms until it is due.
_RESERVE_SCRIPT = (
    _REFILL
    + """
tokens = tokens - 1
"""
    + _STORE
    + """
if tokens >= 0 then
  return 0
end
return math.ceil(-tokens * 1000 / rate)
"""
)


class RedisRateLimiter:
    def __init__(self, url: str, *, prefix: str = "herald:rl:") -> None:
        # Lazy import: Redis is optional, and only deployments that set a URL load the client.
        import redis.asyncio as redis_asyncio

        self._client: Any = redis_asyncio.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._script = self._client.register_script(_TAKE_SCRIPT)
        self._reserve_script = self._client.register_script(_RESERVE_SCRIPT)
        self._prefix = prefix
        self._fallback = MemoryRateLimiter()

    async def take(self, key: str, *, rate: float, burst: int) -> Decision:
        try:
            allowed, remaining, retry_ms = await self._script(keys=[self._prefix + key], args=[rate, burst])
        except Exception as exc:  # any Redis or connection failure: degrade, do not fail the request
            log.warning("rate limiter falls back to process-local buckets: %s", type(exc).__name__)
            return await self._fallback.take(key, rate=rate, burst=burst)
        return Decision(
            allowed=bool(allowed), limit=burst, remaining=int(remaining), retry_after=int(retry_ms) / 1000
        )

    async def reserve(self, key: str, *, rate: float, burst: int) -> float:
        try:
            due_ms = await self._reserve_script(keys=[self._prefix + key], args=[rate, burst])
        except Exception as exc:  # any Redis or connection failure: degrade, do not fail the delivery
            log.warning("rate limiter falls back to process-local buckets: %s", type(exc).__name__)
            return await self._fallback.reserve(key, rate=rate, burst=burst)
        return int(due_ms) / 1000

    async def close(self) -> None:
        await self._client.aclose()


async def take_within(limiter: RateLimiter, key: str, *, rate: float, burst: int, wait: float) -> Decision:
    """Takes a token from `key`'s bucket, waiting for one at most `wait` seconds.

    For a request someone is waiting for (a manual resend): the last decision says, when it is
    refused, how long until a token is free.
    """
    waited = 0.0
    while True:
        decision = await limiter.take(key, rate=rate, burst=burst)
        if decision.allowed or waited + decision.retry_after > wait:
            return decision
        await asyncio.sleep(decision.retry_after)
        waited += decision.retry_after


def retry_after_header(decision: Decision) -> str:
    return str(max(1, math.ceil(decision.retry_after)))
