"""JSON logs, one line per event, and the log context: the work at hand, named by its ids.

The log context (`bind`, and every span's fields) is what a line says about the tenant,
application, message and endpoint being worked on. Only scalar `extra` fields are written and
exceptions lose their messages: payloads, tokens and secrets have no way in.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import IO, Any

# Herald's own loggers (shared/ modules log under their module names).
LOGGERS = ("herald", "shared", "blueprints")
# What a log line and a span may say about the work at hand: ids and counts, nothing else.
FIELDS = ("tenant_id", "app_id", "msg_id", "endpoint_id", "attempt")

Fields = Mapping[str, Any]
# The work at hand; spans (`shared.telemetry.traces`) set it too, and the webhook hook reads it.
work_context: ContextVar[Fields] = ContextVar("herald_telemetry", default=MappingProxyType({}))

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def _current_ids() -> tuple[str | None, str | None]:
    """The current trace and span ids, without importing OpenTelemetry when nothing has."""
    if "opentelemetry.trace" not in sys.modules:
        return None, None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None, None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, trace ids, work ids, scalar extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        trace_id, span_id = _current_ids()
        if trace_id:
            entry["trace_id"], entry["span_id"] = trace_id, span_id
        entry.update({k: v for k, v in work_context.get().items() if k in FIELDS and v is not None})
        for key, value in record_fields(record).items():
            if key not in _RECORD_ATTRIBUTES:
                entry.setdefault(key, value)
        if record.exc_info and record.exc_info[1] is not None:
            entry["exception"] = exception_details(record.exc_info[1])
        return json.dumps(entry, separators=(",", ":"), default=str)


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """A record's standard attributes and its scalar `extra` fields.

    Scalars only: a payload or a header dict passed as `extra` is dropped, never rendered.
    """
    return {
        key: value
        for key, value in vars(record).items()
        if key in _RECORD_ATTRIBUTES or isinstance(value, str | int | float | bool)
    }


def exception_details(exc: BaseException) -> dict[str, str]:
    """The exception's type and stack, without its message or its causes' (they may quote data)."""
    details = traceback.TracebackException.from_exception(exc)
    stack: list[str] = []
    current: traceback.TracebackException | None = details
    while current is not None:
        stack.append("".join(current.stack.format()) + f"{_type_name(current)}\n")
        current = current.__cause__ or current.__context__
    return {"type": _type_name(details), "stack": "".join(reversed(stack))}


def _type_name(details: traceback.TracebackException) -> str:
    # exc_type is deprecated since Python 3.13, which keeps the class's module and qualified name
    # instead (not yet in typeshed, hence getattr).
    name = getattr(details, "exc_type_qualname", None)
    module = getattr(details, "exc_type_module", None)
    return "" if name is None else f"{module}.{name}".removeprefix("builtins.")


_handler: logging.StreamHandler[IO[str]] | None = None


def configure_logging(stream: IO[str] | None = None, *, level: int = logging.INFO) -> logging.Handler:
    """Herald's loggers write JSON lines to `stream` (stderr by default), and only there.

    They stop propagating to the root logger, whose handlers (the Functions worker's, devhost's)
    would print every line a second time in their own format.
    """
    global _handler
    if _handler is None:
        _handler = logging.StreamHandler(stream or sys.stderr)
        _handler.setFormatter(JsonFormatter())
    elif stream is not None:
        _handler.setStream(stream)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _handler not in logger.handlers:
            logger.addHandler(_handler)
        logger.propagate = False
    _set_level(level)
    return _handler


def set_log_level(name: str) -> None:
    """Herald's loggers at the level HERALD_LOG_LEVEL names (`DEBUG`, `INFO`, ...)."""
    _set_level(logging.getLevelNamesMapping()[name])


def _set_level(level: int) -> None:
    for name in LOGGERS:
        logging.getLogger(name).setLevel(level)


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Adds to the log context (and what the webhook hook reads) without a span of its own."""
    token = work_context.set(MappingProxyType({**work_context.get(), **fields}))
    try:
        yield
    finally:
        work_context.reset(token)
