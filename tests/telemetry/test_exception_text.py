"""Exported spans and log records name a failure by its type: its message never leaves the process.

The spans come from the SDK's own exception recording (what every instrumented library gets), the
Azure SDKs' tracing plugin (what `azure-monitor-opentelemetry` turns on) and Herald's API edge; the
log records from Herald's loggers through the handler `telemetry.configure` installs. Both go to
the SDK's in-memory exporters, behind the processor `configure` puts first.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.tracing import SpanKind as AzureSpanKind
from azure.core.tracing.ext.opentelemetry_span import OpenTelemetrySpan
from opentelemetry import trace
from opentelemetry._logs import get_logger_provider, set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from blueprints._http import Call, Reply
from shared import telemetry
from shared.export_filters import ExportingLogHandler
from tests.telemetry.conftest import Api

_LOGS = InMemoryLogRecordExporter()


@pytest.fixture(scope="module")
def log_exporter() -> Iterator[InMemoryLogRecordExporter]:
    """Herald's loggers export to memory through the handler `configure` installs."""
    if not isinstance(get_logger_provider(), LoggerProvider):
        provider = LoggerProvider()
        provider.add_log_record_processor(SimpleLogRecordProcessor(_LOGS))
        set_logger_provider(provider)
    telemetry.export_logs()
    try:
        yield _LOGS
    finally:
        for name in telemetry.LOGGERS:
            logger = logging.getLogger(name)
            for handler in [h for h in logger.handlers if isinstance(h, ExportingLogHandler)]:
                logger.removeHandler(handler)


@pytest.fixture
def logs(log_exporter: InMemoryLogRecordExporter) -> InMemoryLogRecordExporter:
    log_exporter.clear()
    return log_exporter


def _secret() -> str:
    return f"whsec_{uuid.uuid4().hex}"


def _exported_span_text(span: ReadableSpan) -> str:
    events = [(event.name, dict(event.attributes or {})) for event in span.events]
    links = [dict(link.attributes or {}) for link in span.links]
    return repr((span.name, dict(span.attributes or {}), events, links, span.status.description))


def _exception_types(span: ReadableSpan) -> list[Any]:
    return [dict(e.attributes or {}).get("exception.type") for e in span.events if e.name == "exception"]


@pytest.mark.offline
def test_a_span_an_exception_leaves_keeps_its_type_and_loses_its_message(
    spans: InMemorySpanExporter,
) -> None:
    secret = _secret()
    # What the SDK does by default for any span an exception leaves: an `exception` event with
    # the message and the traceback, and a status "ValueError: <message>".
    with pytest.raises(ValueError), trace.get_tracer("a.library").start_as_current_span("library.call"):
        raise ValueError(f"could not parse {secret}")
    (span,) = spans.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert _exception_types(span) == ["ValueError"]
    assert span.status.description == "ValueError"
    assert secret not in _exported_span_text(span)


@pytest.mark.offline
def test_an_exception_recorded_by_hand_keeps_its_type_and_loses_its_message(
    spans: InMemorySpanExporter,
) -> None:
    secret = _secret()
    with trace.get_tracer("a.library").start_as_current_span("library.call") as current:
        try:
            raise KeyError(secret)
        except KeyError as exc:
            current.record_exception(exc)
            current.set_status(Status(StatusCode.ERROR, str(exc)))
            current.set_attribute("error.type", type(exc).__qualname__)
    (span,) = spans.get_finished_spans()
    assert _exception_types(span) == ["KeyError"]
    assert span.status.description == "KeyError"
    assert secret not in _exported_span_text(span)


@pytest.mark.offline
def test_an_azure_sdk_span_keeps_its_error_type_and_loses_its_message(spans: InMemorySpanExporter) -> None:
    secret = _secret()
    # The Azure SDKs' tracing plugin, which azure-monitor-opentelemetry enables for every call.
    with pytest.raises(HttpResponseError), OpenTelemetrySpan(name="Cosmos.read", kind=AzureSpanKind.CLIENT):
        raise HttpResponseError(message=f"Resource {secret} not found")
    (span,) = spans.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "azure.core.exceptions.HttpResponseError"
    assert secret not in _exported_span_text(span)


# Not offline: the API call runs on this session's services, whose Cosmos client the emulators serve.
async def test_an_unhandled_api_error_exports_its_type_but_not_its_message(
    api: Api, spans: InMemorySpanExporter, logs: InMemoryLogRecordExporter
) -> None:
    secret = _secret()

    async def failing(call: Call) -> Reply:
        known: dict[str, str] = {}
        try:
            known[secret]
        except KeyError as inner:
            raise RuntimeError(f"could not use {secret}") from inner
        return 200, {}

    response = await api.call(failing, "GET", "v1/failing", scope=None)
    assert response.status_code == 500

    (server,) = [s for s in spans.get_finished_spans() if s.name == "GET /api/v1/failing"]
    assert dict(server.attributes or {})["error.type"] == "500"
    assert server.status.description == "500"
    assert secret not in _exported_span_text(server)

    (record,) = [
        r.log_record for r in logs.get_finished_logs() if r.log_record.body == "unhandled error in failing"
    ]
    attributes = dict(record.attributes or {})
    assert attributes["exception.type"] == "RuntimeError"
    stack = str(attributes["exception.stacktrace"])
    # The stack names both exceptions and the lines that raised them, not what they said.
    assert "KeyError" in stack and "raise RuntimeError(" in stack
    assert "exception.message" not in attributes
    exported = repr(
        [(r.log_record.body, dict(r.log_record.attributes or {})) for r in logs.get_finished_logs()]
    )
    assert secret not in exported


@pytest.mark.offline
def test_exported_log_records_carry_scalar_fields_only(logs: InMemoryLogRecordExporter) -> None:
    secret = _secret()
    logging.getLogger("herald.tests").warning(
        "something happened", extra={"count": 3, "payload": {"secret": secret}, "headers": [secret]}
    )
    (record,) = [r.log_record for r in logs.get_finished_logs()]
    attributes = dict(record.attributes or {})
    assert record.body == "something happened" and attributes["count"] == 3
    assert "payload" not in attributes and "headers" not in attributes
    assert secret not in repr(attributes)
