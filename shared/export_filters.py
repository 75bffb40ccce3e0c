"""What Herald's telemetry exporters may carry about an exception: its type, never its message.

Exception messages quote data (a payload, a URL with its token, a secret being parsed), and
stack traces as Python formats them end with those messages. OpenTelemetry records both by
default: `Span.record_exception` (every instrumented library, and the SDK on any span an
exception leaves) adds `exception.message` and `exception.stacktrace`, the status of such a span
reads `"<type>: <message>"` (the Azure SDKs' spans under `azure-monitor-opentelemetry` too), and
the logging handler exports both attributes for every record with `exc_info`.

Loaded only with an exporter (or by tests): it imports the OpenTelemetry SDK.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor
from opentelemetry.trace import Status, StatusCode

from shared.telemetry import exception_details, record_fields

EXCEPTION_TYPE = "exception.type"
EXCEPTION_STACKTRACE = "exception.stacktrace"
ERROR_TYPE = "error.type"
# Attributes that hold an exception's text: an event or a span keeps everything else.
_TEXT = frozenset({"exception.message", EXCEPTION_STACKTRACE})


class ExceptionTypesOnly(SpanProcessor):
    """The first processor on the tracer provider: the span exporters after it see each failure
    by its type (`exception.type`, `error.type`, the status description), never its text.

    Why a processor that edits the ended span rather than a wrapper around the exporter: the
    exporter of `azure-monitor-opentelemetry` is built inside the distro, out of reach, while a
    processor given to it runs before that exporter's, and the SDK hands every processor the same
    `ReadableSpan`. It has no public setters, hence the assignments below (pinned by
    tests/telemetry/test_exception_text.py against the SDK version in requirements.txt).
    """

    def on_end(self, span: ReadableSpan) -> None:
        events = span.events
        attributes = span.attributes or {}
        recorded = next(
            (
                event.attributes[EXCEPTION_TYPE]
                for event in events
                if event.attributes and EXCEPTION_TYPE in event.attributes
            ),
            None,
        )
        error_type = attributes.get(ERROR_TYPE) or recorded
        if any(_TEXT & set(event.attributes or {}) for event in events):
            span._events = tuple(
                Event(event.name, _without_text(event.attributes or {}), event.timestamp) for event in events
            )
        if _TEXT & set(attributes):
            span._attributes = _without_text(attributes)
        status = span.status
        if status.status_code is StatusCode.ERROR and status.description not in (None, error_type):
            # The description is all there is to go on: keep only the type it was made from.
            span._status = Status(StatusCode.ERROR, str(error_type) if error_type is not None else None)

    def shutdown(self) -> None:
        """Nothing to flush: it holds no spans."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _without_text(attributes: Any) -> dict[str, Any]:
    return {key: value for key, value in attributes.items() if key not in _TEXT}


class ExportingLogHandler(LoggingHandler):
    """Exports Herald's log records as its JSON lines write them: the message, scalar fields, and
    an exception as its type and a stack without messages (`shared.telemetry.exception_details`).

    OpenTelemetry's own handler would export every `extra` field whatever its type, and
    `exception.message` and a formatted traceback for any record with `exc_info`.
    """

    def emit(self, record: logging.LogRecord) -> None:
        clean = logging.makeLogRecord(record_fields(record))
        clean.exc_info, clean.exc_text = None, None
        if record.exc_info and record.exc_info[1] is not None:
            details = exception_details(record.exc_info[1])
            # Fields of the record become attributes of the exported one, under these names.
            clean.__dict__[EXCEPTION_TYPE] = details["type"]
            clean.__dict__[EXCEPTION_STACKTRACE] = details["stack"]
        super().emit(clean)
