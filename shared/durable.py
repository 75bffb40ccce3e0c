"""What Herald's Durable workflows pass their activities, and the instance ids they run under.

The payloads are TypedDicts because the Functions worker reads an activity's annotations when it
indexes the app: it refuses PEP 585 generics such as `dict[str, Any]` on a binding ("invalid
non-type annotation"), and a refusal fails the whole index. A TypedDict is a class, so it is
accepted. Their keys are camelCase, as on the API's wire: one casing for everything that travels
(a retry job's Python form, `RetryJob`, is snake_case and converts at that edge). This module
imports nothing heavy: the blueprints import it at start.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict, cast

# The retry workflow and its activity, by the names every recorded history holds: they never
# change (a changed workflow ships under a new name, see README, "Deploying safely").
RETRY_WORKFLOW = "delivery_retries_v1"
ATTEMPT_ACTIVITY = "delivery_attempt"


class RetryInput(TypedDict):
    """A retry workflow's job (`shared.services.delivery.RetryJob`) as it travels."""

    tenantId: str
    appId: str
    msgId: str
    endpointId: str
    attempts: int
    retryIn: float
    schedule: list[int]
    floorSeconds: float
    # A throttle token is reserved for the next attempt (the wait before it was for that token),
    # so that attempt takes no other. Older inputs lack it.
    reserved: NotRequired[bool]


class AttemptInput(RetryInput):
    """The retry workflow's input, which each attempt activity gets: the job and its trace."""

    # The W3C trace context of the dispatch (`telemetry.TRACEPARENT`); older inputs lack it.
    traceparent: NotRequired[str]


# The keys of a retry job recorded before workflow payloads were all camelCase. Histories of
# workflows started then replay with that input and pass it to their activities: both read it.
_SNAKE_CASE_RETRY_KEYS = {
    "tenant_id": "tenantId",
    "app_id": "appId",
    "msg_id": "msgId",
    "endpoint_id": "endpointId",
    "retry_in": "retryIn",
    "floor_seconds": "floorSeconds",
}


def retry_input(recorded: Mapping[str, Any]) -> AttemptInput:
    """A retry workflow's input as recorded, in today's shape (camelCase, whichever it was written in)."""
    return cast(
        AttemptInput, {_SNAKE_CASE_RETRY_KEYS.get(key, key): value for key, value in recorded.items()}
    )


class AttemptReply(TypedDict):
    """What an attempt activity tells the retry workflow."""

    status: str
    # Seconds until the next attempt; None when the destination is finished.
    retryIn: float | None
    # False when no request went out (open circuit, throttle, the tenant's outbound share busy):
    # the attempt does not count.
    attempted: bool
    # The wait is for a reserved throttle token (older replies lack it).
    reserved: NotRequired[bool]


class StatsJob(TypedDict):
    """The input of one execution of the usage-statistics workflow, and of its activities."""

    tenantId: str
    taskId: str
    # The last application id the task has counted; None before the first batch.
    cursor: str | None


class StatsProgress(TypedDict):
    """What a statistics batch tells the workflow: whether it is done, and where to go on from."""

    done: bool
    cursor: str | None


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
    # The rest of the batch was put off (throttle, the tenant's outbound share busy): the workflow
    # waits this long on a durable timer before the next batch. Older replies lack it.
    retryIn: NotRequired[float | None]


class PurgeJob(TypedDict):
    """The input of one execution of the content-purge workflow (`application.purge_content`)."""

    tenantId: str
    taskId: str
    # The last message id purged up to; None before the first batch.
    cursor: str | None


class PurgeProgress(TypedDict):
    """What a purge batch tells the workflow: whether it is done, and where to go on from."""

    done: bool
    cursor: str | None


# The Durable extension refuses longer instance ids (counted in UTF-16 code units, as .NET does).
MAX_INSTANCE_ID = 256
# Refused by the extension, and '%' (the escape itself) and '~' (the separator of the parts).
_ESCAPED = frozenset("/\\#?%~")
# Control characters (refused) and lone surrogates (not encodable, so not sendable to the host).
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cs"})
# A hashed id: no escaped part contains "%%", since every '%' there starts a two-digit escape.
_HASHED = "%%"


def instance_id(kind: str, *parts: str) -> str:
    """The instance id `kind~part~part...`, valid for the Durable extension whatever the parts hold.

    Parts are tenant ids (any string a token or the inbound queue carries) and Herald's own ids.
    Each is kept as is unless it holds a character the extension refuses, '%' or '~': those are
    percent-encoded (UTF-8), so ordinary ids are unchanged and distinct parts give distinct ids.
    An id still too long becomes `kind~%%<sha256 of the long id>`: deterministic, and distinct
    from every other id. `kind` is Herald's constant ("dlv", "rcv"): no leading '@' is possible.
    """
    joined = "~".join([kind, *(_escape(part) for part in parts)])
    if len(joined.encode("utf-16-le")) // 2 <= MAX_INSTANCE_ID:
        return joined
    return f"{kind}~{_HASHED}{hashlib.sha256(joined.encode()).hexdigest()}"


def _escape(part: str) -> str:
    return "".join(
        "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        if char in _ESCAPED or unicodedata.category(char) in _ESCAPED_CATEGORIES
        else char
        for char in part
    )
