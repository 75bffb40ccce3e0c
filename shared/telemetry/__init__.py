"""Herald's telemetry: one trace per message, metrics for the alerts and `/api/v1/metrics`, JSON logs.

One module per concern, every public name importable from here (`from shared import telemetry`):

- `startup`: the exporters, configured once at start-up (`configure`, from `function_app.py`):
  Application Insights when `APPLICATIONINSIGHTS_CONNECTION_STRING` is set, an OTLP collector when
  `OTEL_EXPORTER_OTLP_ENDPOINT` is set, nothing otherwise (spans are then OpenTelemetry's no-ops).
- `metrics`: kept in process, always, for the Prometheus text of `GET /api/v1/metrics`.
- `logs`: JSON, one line per event, with the trace and span ids and the tenant, application,
  message and endpoint being worked on. Only scalar `extra` fields are written and exceptions lose
  their messages, in the JSON lines as in what the exporters send (spans included:
  `shared/export_filters.py`): payloads, tokens and secrets have no way in.
- `traces`: spans, and the `traceparent` that carries a trace into another process.
- `webhook`: the hook around each webhook request (its client span, metrics and log line).

Nothing here imports OpenTelemetry when the package loads (unless an exporter is configured): the
API loads with the first span, the SDK with the first metric, so a cold start that only answers
`/api/v1/health` pays for neither.
"""

from shared.telemetry.logs import (
    FIELDS,
    LOGGERS,
    Fields,
    JsonFormatter,
    bind,
    configure_logging,
    exception_details,
    record_fields,
    set_log_level,
)
from shared.telemetry.metrics import (
    PROMETHEUS_CONTENT_TYPE,
    StoreOperation,
    prometheus_text,
    record_api_request,
    record_circuit,
    record_poison_depth,
    record_retries_started,
    record_retry_finished,
    store_operation,
)
from shared.telemetry.startup import APPINSIGHTS_SETTING, OTLP_SETTING, configure, export_logs
from shared.telemetry.traces import TRACEPARENT, Activity, span, traceparent
from shared.telemetry.webhook import WebhookAttempt, webhook_attempt

__all__ = [
    "APPINSIGHTS_SETTING",
    "FIELDS",
    "LOGGERS",
    "OTLP_SETTING",
    "PROMETHEUS_CONTENT_TYPE",
    "TRACEPARENT",
    "Activity",
    "Fields",
    "JsonFormatter",
    "StoreOperation",
    "WebhookAttempt",
    "bind",
    "configure",
    "configure_logging",
    "exception_details",
    "export_logs",
    "prometheus_text",
    "record_api_request",
    "record_circuit",
    "record_fields",
    "record_poison_depth",
    "record_retries_started",
    "record_retry_finished",
    "set_log_level",
    "span",
    "store_operation",
    "traceparent",
    "webhook_attempt",
]
