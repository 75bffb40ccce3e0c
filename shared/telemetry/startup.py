"""Start-up: JSON logs, and the exporters the environment asks for, configured once per process.

Application Insights through `azure-monitor-opentelemetry` when
`APPLICATIONINSIGHTS_CONNECTION_STRING` is set, an OTLP collector when `OTEL_EXPORTER_OTLP_ENDPOINT`
is set, nothing otherwise (spans are then OpenTelemetry's no-ops, and no SDK is imported here).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from shared.telemetry import metrics
from shared.telemetry.logs import LOGGERS, configure_logging

APPINSIGHTS_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
OTLP_SETTING = "OTEL_EXPORTER_OTLP_ENDPOINT"

_configured = False


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
    from opentelemetry import metrics as otel_metrics

    readers: list[Any] = [metrics.prometheus_reader()]
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
    metrics.use_meter_provider(otel_metrics.get_meter_provider())
    export_logs()


def _configure_otlp_providers(
    readers: list[Any], span_processors: list[Any], log_processors: list[Any]
) -> None:
    from opentelemetry import metrics as otel_metrics
    from opentelemetry import trace
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
    otel_metrics.set_meter_provider(SdkMeterProvider(metric_readers=readers, resource=resource))
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
