"""The webhook hook: each attempt's one POST, as a client span, its metrics and its log line.

`shared.delivery.sender.send` wraps every request in `webhook_attempt`; the request carries the
attempt's span as `traceparent`, so a receiver can continue the message's trace.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from shared.telemetry.logs import work_context
from shared.telemetry.metrics import instruments
from shared.telemetry.traces import Activity, propagator, span

_attempt_log = logging.getLogger("herald.delivery")


class WebhookAttempt:
    """One webhook request in flight: its span, the headers that continue the trace, its metrics."""

    def __init__(self, activity: Activity) -> None:
        self._activity = activity
        self._started = time.perf_counter()

    def headers(self) -> dict[str, str]:
        """`traceparent` (and `tracestate`) for the receiver, from the current span: the attempt's,
        or in an untraced process the trace the message's work carries on."""
        carrier: dict[str, str] = {}
        propagator().inject(carrier)
        return carrier

    def finish(self, *, status_code: int, success: bool, error_type: str | None) -> None:
        seconds = time.perf_counter() - self._started
        outcome = "success" if success else "failure"
        failure = error_type or (None if success else str(status_code))
        if self._activity.recording:
            attributes: dict[str, str | int | float | bool] = {"herald.outcome": outcome}
            if status_code:
                attributes["http.response.status_code"] = status_code
            if failure:
                attributes["error.type"] = failure
                self._activity.fail(failure)
            self._activity.set_attributes(attributes)
        measured = instruments()
        measured.deliveries.add(1, {"outcome": outcome})
        measured.attempt_duration.record(seconds, {"outcome": outcome})
        context = work_context.get()
        since = context.get("first_attempt_since")
        if context.get("attempt") == 1 and isinstance(since, float):
            measured.dispatch_lag.record(max(0.0, time.time() - since))
        # Failures are what operators look for; a success is already in the attempt log, the
        # metrics and the trace, and one line per delivered webhook would cost a tenth of a
        # busy host's CPU and of its log bill (HERALD_LOG_LEVEL=DEBUG logs them too).
        _attempt_log.log(
            logging.INFO if failure else logging.DEBUG,
            "webhook attempt",
            extra={
                "outcome": outcome,
                "status_code": status_code,
                "duration_ms": round(seconds * 1000, 1),
                **({"error_type": failure} if failure else {}),
            },
        )


@contextmanager
def webhook_attempt(*, msg_id: str, endpoint_id: str, url: str) -> Iterator[WebhookAttempt]:
    """Wraps the one POST of an attempt (called by `shared.delivery.sender.send`).

    The URL's path and query are not recorded: receivers put tokens there (chat webhooks do).
    """
    parts = urlsplit(url)
    default_port = 443 if parts.scheme == "https" else 80
    try:
        port = parts.port or default_port
    except ValueError:
        port = default_port
    context = work_context.get()
    attributes: dict[str, str | int | float | bool] = {
        "http.request.method": "POST",
        "url.scheme": parts.scheme,
        "server.address": parts.hostname or "",
        "server.port": port,
    }
    with span(
        "herald.attempt",
        kind="client",
        attributes=attributes,
        msg_id=msg_id,
        endpoint_id=endpoint_id or context.get("endpoint_id"),
        attempt=context.get("attempt"),
    ) as activity:
        yield WebhookAttempt(activity)
