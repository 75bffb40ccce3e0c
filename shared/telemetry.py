"""Herald's telemetry: one trace per message, metrics for the alerts and `/api/v1/metrics`, JSON logs.

- **Exporters** are configured once at start-up (`configure`, from `function_app.py`): Application
  Insights through `azure-monitor-opentelemetry` when `APPLICATIONINSIGHTS_CONNECTION_STRING` is
  set, an OTLP collector when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, nothing otherwise (spans are
  then OpenTelemetry's no-ops).
- **Metrics** are also kept in process, always, for the Prometheus text of `GET /api/v1/metrics`.
- **Logs** are JSON, one line per event, with the trace and span ids and the tenant, application,
  message and endpoint being worked on. Only scalar `extra` fields are written and exceptions lose
  their messages, in the JSON lines as in what the exporters send (spans included:
  `shared/export_filters.py`): payloads, tokens and secrets have no way in.

Nothing here imports OpenTelemetry when the module loads (unless an exporter is configured): the
API loads with the first span, the SDK with the first metric, so a cold start that only answers
`/api/v1/health` pays for neither.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import IO, TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, Histogram, MeterProvider, UpDownCounter
    from opentelemetry.trace import Span, Tracer

APPINSIGHTS_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
OTLP_SETTING = "OTEL_EXPORTER_OTLP_ENDPOINT"
# Herald's own loggers (shared/ modules log under their module names).
LOGGERS = ("herald", "shared", "blueprints")
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TRACEPARENT = "traceparent"
# What a log line and a span may say about the work at hand: ids and counts, nothing else.
FIELDS = ("tenant_id", "app_id", "msg_id", "endpoint_id", "attempt")

_attempt_log = logging.getLogger("herald.delivery")

Fields = Mapping[str, Any]
_context: ContextVar[Fields] = ContextVar("herald_telemetry", default=MappingProxyType({}))


# Logs ----------------------------------------------------------------------------------------------

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
        entry.update({k: v for k, v in _context.get().items() if k in FIELDS and v is not None})
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


# Start-up ------------------------------------------------------------------------------------------

_configured = False
_meter_provider: MeterProvider | None = None
_registry: Any = None  # the prometheus_client CollectorRegistry behind /api/v1/metrics
_lock = threading.Lock()


def configure() -> None:
    """Once per process, at start-up: JSON logs, and the exporters the environment asks for."""
    global _configured
    if _configured:
        return
    _configured = True
    # At INFO until the services are built and HERALD_LOG_LEVEL applies (`set_log_level`): reading
    # the settings here would load pydantic-settings into every cold start (+90 ms, measured).
    configure_logging()
    # Platform settings, not Herald's: the Functions host and OpenTelemetry read the same names.
    appinsights = bool(os.environ.get(APPINSIGHTS_SETTING))
    otlp = bool(os.environ.get(OTLP_SETTING))
    if appinsights or otlp:
        _configure_exporters(appinsights=appinsights, otlp=otlp)


def _configure_exporters(*, appinsights: bool, otlp: bool) -> None:
    global _meter_provider
    from opentelemetry import metrics

    readers: list[Any] = [_prometheus_reader()]
    span_processors: list[Any] = []
    log_processors: list[Any] = []
    if otlp:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
        span_processors.append(BatchSpanProcessor(OTLPSpanExporter()))
        log_processors.append(BatchLogRecordProcessor(OTLPLogExporter()))
    from shared.export_filters import ExceptionTypesOnly

    # First, so that every exporter after it sees exceptions by their type only.
    span_processors.insert(0, ExceptionTypesOnly())
    if appinsights:
        from azure.monitor.opentelemetry import configure_azure_monitor

        # The distro builds the providers; OTLP, when also configured, rides along on them.
        configure_azure_monitor(
            logger_name=LOGGERS[0],
            metric_readers=readers,
            span_processors=span_processors,
            log_record_processors=log_processors,
        )
    else:
        _configure_otlp_providers(readers, span_processors, log_processors)
    _meter_provider = metrics.get_meter_provider()
    export_logs()


def _configure_otlp_providers(
    readers: list[Any], span_processors: list[Any], log_processors: list[Any]
) -> None:
    from opentelemetry import metrics, trace
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES still win: Resource.create reads them.
    resource = Resource.create({} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": "herald"})
    tracer_provider = TracerProvider(resource=resource)
    for processor in span_processors:
        tracer_provider.add_span_processor(processor)
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(SdkMeterProvider(metric_readers=readers, resource=resource))
    logger_provider = LoggerProvider(resource=resource)
    for log_processor in log_processors:
        logger_provider.add_log_record_processor(log_processor)
    set_logger_provider(logger_provider)


def export_logs() -> None:
    """Herald's exporting log handler, to the global logger provider, on every Herald logger.

    It replaces OpenTelemetry's own handler, which the distro attaches to one of them and which
    would export exception messages and tracebacks (see `shared.export_filters`).
    """
    from opentelemetry.instrumentation.logging.handler import LoggingHandler

    from shared.export_filters import ExportingLogHandler

    loggers = [logging.getLogger(name) for name in LOGGERS]
    existing = [h for logger in loggers for h in logger.handlers if isinstance(h, ExportingLogHandler)]
    handler = existing[0] if existing else ExportingLogHandler()
    for logger in loggers:
        for other in [h for h in logger.handlers if isinstance(h, LoggingHandler) and h is not handler]:
            logger.removeHandler(other)
        if handler not in logger.handlers:
            logger.addHandler(handler)


def _prometheus_reader() -> Any:
    global _registry
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from prometheus_client import CollectorRegistry

    # A registry of Herald's own, not prometheus_client's global one.
    _registry = CollectorRegistry(auto_describe=False)
    return PrometheusMetricReader(disable_target_info=True, scope_info_enabled=False, registry=_registry)


# Metrics -------------------------------------------------------------------------------------------

_SECONDS_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SECONDS_HTTP = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0)
_SECONDS_LAG = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


@dataclass(frozen=True)
class _Instruments:
    deliveries: Counter
    attempt_duration: Histogram
    dispatch_lag: Histogram
    pending_retries: UpDownCounter
    exhausted: Counter
    store_operations: Counter
    store_duration: Histogram
    api_requests: Counter
    api_duration: Histogram


_instruments: _Instruments | None = None
# Per process: the breaker and the poison-queue probe report here, the gauges read it.
_open_circuits: set[str] = set()
_poison_depth: int | None = None


def _metrics() -> _Instruments:
    """The instruments, created with the first metric recorded (the first request or delivery)."""
    global _instruments, _meter_provider
    if _instruments is not None:
        return _instruments
    with _lock:
        if _instruments is None:
            if _meter_provider is None:
                from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider

                _meter_provider = SdkMeterProvider(metric_readers=[_prometheus_reader()])
            _instruments = _create_instruments(_meter_provider)
    return _instruments


def _create_instruments(provider: MeterProvider) -> _Instruments:
    from opentelemetry.metrics import Observation

    meter = provider.get_meter("herald")

    def open_circuits(_: Any) -> list[Observation]:
        return [Observation(len(_open_circuits))]

    def poison_depth(_: Any) -> list[Observation]:
        return [] if _poison_depth is None else [Observation(_poison_depth)]

    meter.create_observable_gauge(
        "herald.circuits.open", [open_circuits], description="Endpoints whose circuit is open."
    )
    meter.create_observable_gauge(
        "herald.inbound.poison_depth",
        [poison_depth],
        description="Approximate message count of the herald-inbound-poison queue.",
    )
    return _Instruments(
        deliveries=meter.create_counter(
            "herald.deliveries", description="Webhook delivery attempts, by outcome (success | failure)."
        ),
        attempt_duration=meter.create_histogram(
            "herald.attempt.duration",
            unit="s",
            description="Duration of webhook requests, by outcome.",
            explicit_bucket_boundaries_advisory=_SECONDS_HTTP,
        ),
        dispatch_lag=meter.create_histogram(
            "herald.dispatch.lag",
            unit="s",
            description="From a message's timestamp to its first attempt to an endpoint.",
            explicit_bucket_boundaries_advisory=_SECONDS_LAG,
        ),
        pending_retries=meter.create_up_down_counter(
            "herald.retries.pending", description="Retry workflows started and not yet finished."
        ),
        exhausted=meter.create_counter(
            "herald.exhausted",
            description="Message-endpoint pairs that used their whole retry schedule without success.",
        ),
        store_operations=meter.create_counter(
            "herald.store.operations",
            description="Cosmos DB and Durable (Storage) operations, by container, operation and outcome.",
        ),
        store_duration=meter.create_histogram(
            "herald.store.duration",
            unit="s",
            description="Duration of store operations, by container and operation.",
            explicit_bucket_boundaries_advisory=_SECONDS_FAST,
        ),
        api_requests=meter.create_counter(
            "herald.api.requests", description="API requests, by route, method and status."
        ),
        api_duration=meter.create_histogram(
            "herald.api.duration",
            unit="s",
            description="Duration of API requests, by route and method.",
            explicit_bucket_boundaries_advisory=_SECONDS_HTTP,
        ),
    )


def prometheus_text() -> str:
    """The in-process metrics in the Prometheus text exposition format (0.0.4)."""
    from prometheus_client import generate_latest

    _metrics()
    return generate_latest(_registry).decode("utf-8")


def record_circuit(endpoint_id: str, open: bool) -> None:
    """The delivery circuit breaker reports each endpoint's circuit as it opens and closes."""
    _metrics()
    if open:
        _open_circuits.add(endpoint_id)
    else:
        _open_circuits.discard(endpoint_id)


def record_poison_depth(depth: int) -> None:
    global _poison_depth
    _metrics()
    _poison_depth = depth


def record_api_request(route: str, method: str, status: int, seconds: float) -> None:
    instruments = _metrics()
    instruments.api_requests.add(1, {"route": route, "method": method, "status": status})
    instruments.api_duration.record(seconds, {"route": route, "method": method})


def record_retries_started(count: int = 1) -> None:
    _metrics().pending_retries.add(count)


def record_retry_finished(status: str) -> None:
    """A retry workflow's last attempt is done: `status` is the pair's (success, fail, canceled)."""
    instruments = _metrics()
    instruments.pending_retries.add(-1)
    if status == "fail":
        instruments.exhausted.add(1)


@dataclass
class StoreOperation:
    """One store request being measured; the store sets `outcome` when it is not a success."""

    outcome: str = "success"


@contextmanager
def store_operation(container: str, operation: str) -> Iterator[StoreOperation]:
    """Counts and times one store request (a Cosmos DB call, or a Durable client call)."""
    measured = StoreOperation()
    started = time.perf_counter()
    try:
        yield measured
    except BaseException:
        if measured.outcome == "success":
            measured.outcome = "error"
        raise
    finally:
        instruments = _metrics()
        instruments.store_operations.add(
            1, {"container": container, "operation": operation, "outcome": measured.outcome}
        )
        instruments.store_duration.record(
            time.perf_counter() - started, {"container": container, "operation": operation}
        )


# Traces --------------------------------------------------------------------------------------------


class Activity:
    """A span and the log context of the work it covers, set together."""

    def __init__(self, span: Span) -> None:
        self.span = span

    def bind(self, **fields: Any) -> None:
        """Names the work (tenant_id, app_id, msg_id, endpoint_id, attempt): span and logs alike."""
        present = {k: v for k, v in fields.items() if v is not None}
        self.span.set_attributes({f"herald.{k}": v for k, v in present.items() if k in FIELDS})
        _context.set(MappingProxyType({**_context.get(), **present}))

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


def _tracer() -> Tracer:
    """Herald's tracer, looked up once: the lookup reads the environment each time while no
    provider is set (a tenth of a delivery's CPU in a profile). Until `configure` sets one it is
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
    from opentelemetry.trace import INVALID_SPAN, SpanKind
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    token = _context.set(_context.get())
    try:
        if not (parent or carrier or _tracing()):
            # No tracer provider: the span would record nothing and change no context (a span from
            # the proxy carries its parent's ids), so only the log context is kept (one delivery in
            # ten of its CPU went to the no-op span's machinery).
            activity = Activity(INVALID_SPAN)
            activity.bind(**fields)
            yield activity
            return
        context = None
        if parent or carrier:
            context = TraceContextTextMapPropagator().extract(carrier or {TRACEPARENT: parent or ""})
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
        _context.reset(token)


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Adds to the log context (and what the delivery hook reads) without a span of its own."""
    token = _context.set(MappingProxyType({**_context.get(), **fields}))
    try:
        yield
    finally:
        _context.reset(token)


def traceparent() -> str | None:
    """The current span as a W3C `traceparent`, to carry work into another process; None untraced."""
    if "opentelemetry.trace" not in sys.modules:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get(TRACEPARENT)


# The delivery hook ---------------------------------------------------------------------------------


class WebhookAttempt:
    """One webhook request in flight: its span, the headers that continue the trace, its metrics."""

    def __init__(self, activity: Activity) -> None:
        self._activity = activity
        self._started = time.perf_counter()

    def headers(self) -> dict[str, str]:
        """`traceparent` (and `tracestate`) for the receiver, from the attempt's own span."""
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(carrier)
        return carrier

    def finish(self, *, status_code: int, success: bool, error_type: str | None) -> None:
        seconds = time.perf_counter() - self._started
        outcome = "success" if success else "failure"
        failure = error_type or (None if success else str(status_code))
        if status_code:
            self._activity.set_attributes({"http.response.status_code": status_code})
        self._activity.set_attributes({"herald.outcome": outcome})
        if failure:
            self._activity.set_attributes({"error.type": failure})
            self._activity.fail(failure)
        instruments = _metrics()
        instruments.deliveries.add(1, {"outcome": outcome})
        instruments.attempt_duration.record(seconds, {"outcome": outcome})
        context = _context.get()
        since = context.get("first_attempt_since")
        if context.get("attempt") == 1 and isinstance(since, float):
            instruments.dispatch_lag.record(max(0.0, time.time() - since))
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
    context = _context.get()
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
