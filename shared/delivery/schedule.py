"""When to try again: the retry schedule, deterministic jitter, `Retry-After` and back-off floors.

Pure functions of their inputs, so a Durable orchestrator can call them and stay replay-safe: the
jitter comes from a hash of the workflow's identity and the attempt number, never from a clock
or a random generator.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.delivery.sender import AttemptResult

JITTER = 0.2


def jittered(delay: float, *, seed: str, attempt: int) -> float:
    """`delay` scaled by a factor in [0.8, 1.2] that depends only on (seed, attempt)."""
    digest = hashlib.sha256(f"{seed}:{attempt}".encode()).digest()
    unit = int.from_bytes(digest[:8], "big") / 2**64
    return delay * (1 - JITTER + 2 * JITTER * unit)


def next_delay(
    schedule: list[int], attempt: int, result: AttemptResult, *, seed: str, floor_seconds: float
) -> float | None:
    """Seconds to wait after failed attempt number `attempt` (1-based); None when it was the last.

    `schedule[i]` is the delay between attempt i+1 and attempt i+2. A `Retry-After` is honoured
    within 1x to 2x of the scheduled delay; after a timeout or a 429 the wait is at least the floor.
    """
    if result.success or result.gone or attempt > len(schedule):
        return None
    base = jittered(float(schedule[attempt - 1]), seed=seed, attempt=attempt)
    if result.retry_after is not None:
        base = min(max(result.retry_after, base), 2 * base)
    if result.needs_floor:
        base = max(base, floor_seconds)
    return base
