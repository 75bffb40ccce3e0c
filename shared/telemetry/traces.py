"""Traces: one trace per message, its spans current (and their ids in the logs) while open.

OpenTelemetry's API loads with the first span; without a tracer provider a span is only its log
context, so an untraced process pays for no span machinery.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from shared.telemetry.logs import FIELDS, work_context

if TYPE_CHECKING:
    from opentelemetry.propagators.textmap import TextMapPropagator
    from opentelemetry.trace import Span, Tracer

TRACEPARENT = "traceparent"


class Activity:
    """A span and the log context of the work it covers, set together."""

    def __init__(self, span: Span) -> None:
        self.span = span

    def bind(self, **fields: Any) -> None:
        """Names the work (tenant_id, app_id, msg_id, endpoint_id, attempt): span and logs alike."""
        present = {k: v for k, v in fields.items() if v is not None}
        if self.recording:
            self.span.set_attributes({f"herald.{k}": v for k, v in present.items() if k in FIELDS})
        work_context.set(MappingProxyType({**work_context.get(), **present}))

    @property
    def recording(self) -> bool:
        """False for an untraced process's span: attributes set on it would go nowhere."""
        return self.span.is_recording()

    def set_attributes(self, attributes: Mapping[str, str | int | float | bool]) -> None:
        self.span.set_attributes(attributes)

    def fail(self, description: str) -> None:
        from opentelemetry.trace import Status, StatusCode

        self.span.set_status(Status(StatusCode.ERROR, description))


_herald_tracer: Tracer | None = None
# Set once a tracer provider exists (it can be set only once per process, never unset).
_provider_set = False


def _tracing() -> bool:
    global _provider_set
    if not _provider_set:
        from opentelemetry.trace import ProxyTracerProvider, get_tracer_provider

        _provider_set = not isinstance(get_tracer_provider(), ProxyTracerProvider)
    return _provider_set


@functools.cache
def _invalid_span() -> Span:
    """OpenTelemetry's non-recording span, imported once (an import statement per span showed in
    bench/delivery's profile)."""
    from opentelemetry.trace import INVALID_SPAN

    return INVALID_SPAN


@functools.cache
def propagator() -> TextMapPropagator:
    """W3C trace context (`traceparent`, `tracestate`), built once: every attempt injects it."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator()


def _tracer() -> Tracer:
    """Herald's tracer, looked up once: the lookup reads the environment each time while no
    provider is set, on every span of the message path (bench/delivery measures its cost). Until
    `configure` sets one it is
    OpenTelemetry's proxy, which follows the provider set later."""
    global _herald_tracer
    if _herald_tracer is None:
        from opentelemetry import trace

        _herald_tracer = trace.get_tracer("herald")
    return _herald_tracer


@contextmanager
def span(
    name: str,
    *,
    kind: Literal["internal", "server", "client", "consumer"] = "internal",
    parent: str | None = None,
    carrier: Mapping[str, str] | None = None,
    attributes: Mapping[str, str | int | float | bool] | None = None,
    **fields: Any,
) -> Iterator[Activity]:
    """A span for a step of a message's journey, current (and its ids in the logs) while open.

    Its parent is the current span, or the one a `traceparent` names (`parent`, or in the headers
    of `carrier`) when work crosses a process: an API call, a retry workflow's activity. An
    exception marks it failed with its type only (`error.type`): messages may quote data.
    """
    token = work_context.set(work_context.get())
    try:
        if not (parent or carrier or _tracing()):
            # No tracer provider: the span would record nothing and change no context (a span from
            # the proxy carries its parent's ids), so only the log context is kept (one delivery in
            # ten of its CPU went to the no-op span's machinery).
            activity = Activity(_invalid_span())
            activity.bind(**fields)
            yield activity
            return
        from opentelemetry.trace import SpanKind

        context = None
        if parent or carrier:
            context = propagator().extract(carrier or {TRACEPARENT: parent or ""})
        with _tracer().start_as_current_span(
            name,
            context=context,
            kind=SpanKind[kind.upper()],
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as current:
            activity = Activity(current)
            activity.bind(**fields)
            try:
                yield activity
            except BaseException as exc:
                activity.set_attributes({"error.type": type(exc).__qualname__})
                activity.fail(type(exc).__qualname__)
                raise
    finally:
        work_context.reset(token)


def traceparent() -> str | None:
    """The current span as a W3C `traceparent`, to carry work into another process; None untraced."""
    if "opentelemetry.trace" not in sys.modules:
        return None
    carrier: dict[str, str] = {}
    propagator().inject(carrier)
    return carrier.get(TRACEPARENT)
