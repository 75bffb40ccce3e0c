"""Telemetry at start-up: no SDK on a bare cold start; exporters exactly when the environment asks."""

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
heavy = ("opentelemetry.sdk", "opentelemetry.exporter", "prometheus_client", "azure.monitor")
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


def test_an_application_insights_connection_string_configures_azure_monitor() -> None:
    port = free_port()
    report = _probe(
        APPLICATIONINSIGHTS_CONNECTION_STRING=(
            "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
            f"IngestionEndpoint=http://127.0.0.1:{port}/;LiveEndpoint=http://127.0.0.1:{port}/"
        ),
        APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL="true",
        PROBE_DEEP="1",
    )
    assert "azure.monitor.opentelemetry" in report["sdk_loaded"]  # type: ignore[operator]
    assert report["tracer_provider"] == "opentelemetry.sdk.trace"
    assert report["log_handlers"] == ["blueprints", "herald", "shared"]
    # The in-process metrics behind /api/v1/metrics ride on the distro's meter provider.
    assert report["prometheus"] is True
