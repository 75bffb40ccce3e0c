"""What Herald's Durable workflows pass their activities.

The payloads are TypedDicts because the Functions worker reads an activity's annotations when it
indexes the app: it refuses PEP 585 generics such as `dict[str, Any]` on a binding ("invalid
non-type annotation"), and a refusal fails the whole index. A TypedDict is a class, so it is
accepted. This module imports nothing heavy: the blueprints import it at start.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class RetryInput(TypedDict):
    """A retry workflow's job (`shared.services.delivery.RetryJob`) as it travels."""

    tenant_id: str
    app_id: str
    msg_id: str
    endpoint_id: str
    attempts: int
    retry_in: float
    schedule: list[int]
    floor_seconds: float


class AttemptInput(RetryInput):
    """The retry workflow's input, which each attempt activity gets: the job and its trace."""

    # The W3C trace context of the dispatch (`telemetry.TRACEPARENT`); older inputs lack it.
    traceparent: NotRequired[str]


class AttemptReply(TypedDict):
    """What an attempt activity tells the retry workflow."""

    status: str
    # Seconds until the next attempt; None when the pair is finished.
    retryIn: float | None
    # False when no request went out (open circuit): the attempt does not count.
    attempted: bool


class RecoveryJob(TypedDict):
    """The input of one execution of the recovery workflow, and of its activities."""

    tenantId: str
    taskId: str
    # The last message id the task has resent up to; None before the first batch.
    cursor: str | None


class RecoveryProgress(TypedDict):
    """What a recovery batch tells the workflow: whether it is done, and where to go on from."""

    done: bool
    cursor: str | None
