"""Telemetry at start-up: no SDK nor pydantic on a bare cold start; exporters when the environment asks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from devhost.testing import free_port

ROOT = Path(__file__).resolve().parents[2]
EXPORTER_SETTINGS = ("APPLICATIONINSIGHTS_CONNECTION_STRING", "OTEL_EXPORTER_OTLP_ENDPOINT")

# Imports the app as the host does, then reports what got configured; os._exit skips exporters'
# shutdown flushes to the unreachable collectors.
PROBE = """
import json, logging, os, sys
import function_app
from shared import telemetry
# pydantic too: routes name their models, which load with the first request that needs them.
heavy = ("opentelemetry.sdk", "opentelemetry.exporter", "prometheus_client", "azure.monitor", "pydantic")
report = {"sdk_loaded": sorted(m for m in sys.modules if m.startswith(heavy))}
if os.environ.get("PROBE_DEEP"):
    from opentelemetry import trace
    from opentelemetry.instrumentation.logging.handler import LoggingHandler
    report["tracer_provider"] = type(trace.get_tracer_provider()).__module__
    report["log_handlers"] = sorted(
        {name for name in telemetry.LOGGERS
         if any(isinstance(h, LoggingHandler) for h in logging.getLogger(name).handlers)})
    telemetry.record_api_request("v1/probe", "GET", 200, 0.01)
    report["prometheus"] = 'herald_api_requests_total{method="GET",route="v1/probe",status="200"} 1.0' in (
        telemetry.prometheus_text())
    # What the configured exporters would receive of a failure whose message holds a secret:
    # in-memory exporters added after the ones start-up configured.
    from opentelemetry._logs import get_logger_provider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(spans))
    get_logger_provider().add_log_record_processor(SimpleLogRecordProcessor(logs))
    secret = "secret-" + os.urandom(8).hex()
    try:
        with trace.get_tracer("probe").start_as_current_span("probe.failing"):
            raise ValueError(secret)
    except ValueError:
        logging.getLogger("herald.probe").exception("probe failed")
    exported = [(s.name, dict(s.attributes), [(e.name, dict(e.attributes)) for e in s.events],
                 s.status.description) for s in spans.get_finished_spans()]
    exported += [(r.log_record.body, dict(r.log_record.attributes)) for r in logs.get_finished_logs()]
    report["exported"] = sorted(str(entry[0]) for entry in exported)
    report["exception_types"] = sorted({str(e[1].get("exception.type")) for s in exported[:-1] for e in s[2]}
                                       | {str(exported[-1][1].get("exception.type"))})
    report["secret_exported"] = secret in repr(exported)
print(json.dumps(report), flush=True)
os._exit(0)
"""


def _probe(**env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if k not in EXPORTER_SETTINGS}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_without_exporter_settings_the_app_imports_no_telemetry_sdk() -> None:
    assert _probe() == {"sdk_loaded": []}


def test_an_otlp_endpoint_configures_traces_metrics_and_logs() -> None:
    report = _probe(
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{free_port()}",
        OTEL_EXPORTER_OTLP_TIMEOUT="1",
        PROBE_DEEP="1",
    )
    assert report["tracer_provider"] == "opentelemetry.sdk.trace"
    assert report["log_handlers"] == ["blueprints", "herald", "shared"]
    assert report["prometheus"] is True
    _assert_exceptions_exported_by_type_only(report)


def _assert_exceptions_exported_by_type_only(report: dict[str, object]) -> None:
    assert report["exported"] == ["probe failed", "probe.failing"]
    assert report["exception_types"] == ["ValueError"]
    assert report["secret_exported"] is False


def test_an_application_insights_connection_string_configures_azure_monitor() -> None:
    port = free_port()
    report = _probe(
        APPLICATIONINSIGHTS_CONNECTION_STRING=(
            "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
            f"IngestionEndpoint=http://127.0.0.1:{port}/;LiveEndpoint=http://127.0.0.1:{port}/"
        ),
        APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL="true",
        # The distro's default rate-limited sampler may drop the probe's one span.
        OTEL_TRACES_SAMPLER="always_on",
        PROBE_DEEP="1",
    )
    assert "azure.monitor.opentelemetry" in report["sdk_loaded"]  # type: ignore[operator]
    assert report["tracer_provider"] == "opentelemetry.sdk.trace"
    assert report["log_handlers"] == ["blueprints", "herald", "shared"]
    # The in-process metrics behind /api/v1/metrics ride on the distro's meter provider.
    assert report["prometheus"] is True
    _assert_exceptions_exported_by_type_only(report)
