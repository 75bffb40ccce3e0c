"""The retry schedule: jitter, Retry-After, floors, the end of the schedule."""

from __future__ import annotations

from typing import Any

from shared.delivery.schedule import jittered, next_delay
from shared.delivery.sender import AttemptResult
from shared.settings import DEFAULT_RETRY_SCHEDULE

SCHEDULE = list(DEFAULT_RETRY_SCHEDULE)


def answered(status_code: int, **meaning: Any) -> AttemptResult:
    return AttemptResult(status_code, "", 3, success=200 <= status_code < 300, **meaning)


FAILED = answered(500)


def test_jitter_is_within_twenty_percent_and_replay_stable() -> None:
    delays = [jittered(300, seed=f"msg_{i}~ep", attempt=2) for i in range(200)]
    assert all(240 <= d <= 360 for d in delays)
    assert max(delays) - min(delays) > 60  # actually spread, not a constant
    assert jittered(300, seed="msg_1~ep", attempt=2) == jittered(300, seed="msg_1~ep", attempt=2)


def test_eight_attempts_over_about_a_day() -> None:
    waits = [next_delay(SCHEDULE, attempt, FAILED, seed="s", floor_seconds=60) for attempt in range(1, 9)]
    assert waits[-1] is None and all(w is not None for w in waits[:-1])
    total = sum(w for w in waits if w is not None)
    assert 0.8 * 98_105 <= total <= 1.2 * 98_105  # 5 s + 5 min + 30 min + 2 h + 5 h + 10 h + 10 h


def test_retry_after_is_honoured_within_one_to_two_times_the_schedule() -> None:
    scheduled = jittered(SCHEDULE[1], seed="s", attempt=2)

    def wait(after: float) -> float | None:
        return next_delay(SCHEDULE, 2, answered(503, retry_after=after), seed="s", floor_seconds=60)

    assert wait(1) == scheduled
    assert wait(scheduled * 1.5) == scheduled * 1.5
    assert wait(10**6) == 2 * scheduled


def test_timeouts_and_429_wait_at_least_the_floor() -> None:
    assert next_delay(SCHEDULE, 1, answered(429, needs_floor=True), seed="s", floor_seconds=60) == 60
    assert next_delay(SCHEDULE, 1, FAILED, seed="s", floor_seconds=60) < 10  # type: ignore[operator]


def test_success_and_gone_end_the_workflow() -> None:
    assert next_delay(SCHEDULE, 1, answered(200), seed="s", floor_seconds=60) is None
    assert next_delay(SCHEDULE, 1, answered(410, gone=True), seed="s", floor_seconds=60) is None
