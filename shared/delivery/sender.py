"""One attempt's webhook request: sign, POST through the SSRF guard, and classify the answer.

2xx is success; any other status, a timeout or a connection error is a failure. Redirects are
never followed. The receiver's answer is kept up to 4 KiB for the attempt log. `send` never
raises: whatever goes wrong in a send is a failed attempt (its `AttemptResult` says why), so one
endpoint can neither abort its siblings' round nor fail a retry workflow.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC

import aiohttp

from shared import telemetry
from shared.delivery.headers import InvalidHeaderError, check_headers
from shared.outbound import RefusedTargetError, guarded_request
from shared.settings import HeraldSettings
from shared.signing import signature_header

log = logging.getLogger(__name__)

USER_AGENT = "Herald-Webhooks/1.0 (+https://www.standardwebhooks.com/)"
JSON_CONTENT_TYPE = "application/json"
MAX_RESPONSE_BYTES = 4096


@dataclass(frozen=True)
class WebhookRequest:
    """Everything one attempt's request needs; `body` is the exact bytes that are signed and sent."""

    msg_id: str
    url: str
    body: bytes
    secrets: list[str]
    headers: Mapping[str, str]
    # For telemetry only (spans, logs): the endpoint this request goes to.
    endpoint_id: str = ""
    # A raw payload's own type; every other payload is JSON.
    content_type: str = JSON_CONTENT_TYPE


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt's request observed, and what its answer means for the next attempt."""

    # 0 when no answer came.
    status_code: int
    response: str
    duration_ms: int
    success: bool
    # Seconds the receiver asked us to wait (Retry-After), if any.
    retry_after: float | None = None
    # A timeout or 429: wait at least the floor before the next attempt.
    needs_floor: bool = False
    # 410 Gone: the endpoint asked not to be called again.
    gone: bool = False
    # Why a request never got an answer (timeout, refused address, connection error).
    error: str | None = None
    # The same, as a low-cardinality word for telemetry: timeout, refused, or the client error's type.
    error_type: str | None = None


def _retry_after(value: str | None, now: float) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    # ASCII digits only: str.isdigit() also accepts digits float() cannot read ("²").
    if value.strip().isascii() and value.strip().isdigit():
        return float(value.strip())
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - now)


def request_headers(request: WebhookRequest, timestamp: int, *, svix_headers: bool) -> dict[str, str]:
    signature = signature_header(request.secrets, request.msg_id, timestamp, request.body)
    # The endpoint's own headers first: Herald's may not be overridden (they are refused on save).
    headers = {
        **request.headers,
        "content-type": request.content_type,
        "user-agent": USER_AGENT,
        "webhook-id": request.msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }
    if svix_headers:
        headers |= {"svix-id": request.msg_id, "svix-timestamp": str(timestamp), "svix-signature": signature}
    return headers


async def send(
    session: aiohttp.ClientSession,
    request: WebhookRequest,
    settings: HeraldSettings,
    *,
    svix_headers: bool = False,
) -> AttemptResult:
    # The attempt's span, metrics and log line; the request carries the span as `traceparent`.
    with telemetry.webhook_attempt(
        msg_id=request.msg_id, endpoint_id=request.endpoint_id, url=request.url
    ) as attempt:
        result = await _post(session, request, settings, svix_headers=svix_headers, trace=attempt.headers())
        attempt.finish(status_code=result.status_code, success=result.success, error_type=result.error_type)
    return result


async def _post(
    session: aiohttp.ClientSession,
    request: WebhookRequest,
    settings: HeraldSettings,
    *,
    svix_headers: bool,
    trace: Mapping[str, str],
) -> AttemptResult:
    started = time.monotonic()
    now = time.time()
    timeout = aiohttp.ClientTimeout(total=settings.delivery_timeout_seconds)

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        # Checked on save too; checked here as well, so headers stored before today's rules
        # cannot smuggle a header (or make the client raise) either.
        check_headers(request.headers)
        headers = {**request_headers(request, int(now), svix_headers=svix_headers), **trace}
        async with await guarded_request(
            session, "POST", request.url, settings, data=request.body, headers=headers, timeout=timeout
        ) as response:
            raw = await response.content.read(MAX_RESPONSE_BYTES)
            status = response.status
            return AttemptResult(
                status_code=status,
                response=raw.decode("utf-8", "replace"),
                duration_ms=elapsed(),
                success=200 <= status < 300,
                retry_after=_retry_after(response.headers.get("retry-after"), time.time()),
                needs_floor=status == 429,
                gone=status == 410,
            )
    except TimeoutError:
        return AttemptResult(
            0, "", elapsed(), success=False, needs_floor=True, error="timeout", error_type="timeout"
        )
    except RefusedTargetError as exc:
        return _failed(str(exc), "refused", elapsed())
    except InvalidHeaderError as exc:
        return _failed(f"custom header: {exc}", "invalid_header", elapsed())
    except aiohttp.ClientConnectorError as exc:
        # The guard refused the address at connect time (a name resolving inward, a literal).
        if isinstance(exc.os_error, RefusedTargetError):
            return _failed(str(exc.os_error), "refused", elapsed())
        return _failed(type(exc).__name__, type(exc).__name__, elapsed())
    except aiohttp.ClientError as exc:
        return _failed(type(exc).__name__, type(exc).__name__, elapsed())
    except Exception as exc:
        # Anything else (the client raising on input it refuses, a resolver's own error) is this
        # endpoint's failed attempt too. Its type only: exception texts can carry URLs or headers.
        log.warning("webhook send raised %s", type(exc).__name__, extra={"endpoint_id": request.endpoint_id})
        return _failed(type(exc).__name__, type(exc).__name__, elapsed())


def _failed(error: str, error_type: str, duration_ms: int) -> AttemptResult:
    """A request that got no answer: why (for the attempt log), and as a word (for telemetry)."""
    return AttemptResult(0, "", duration_ms, success=False, error=error, error_type=error_type)
