"""Logs are JSON lines naming the work (trace, tenant, app, message, endpoint), and never its secrets."""

from __future__ import annotations

import io
import json
import logging
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import telemetry
from tests.support.receivers import Receiver
from tests.telemetry.conftest import Api, new_secret, run_activity


@dataclass
class Captured:
    herald: io.StringIO
    everything: io.StringIO

    def lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.herald.getvalue().splitlines()]


@pytest.fixture
def captured() -> Iterator[Captured]:
    """Herald's JSON lines, at DEBUG, and every other logger's records as plain text."""
    herald, everything = io.StringIO(), io.StringIO()
    telemetry.configure_logging(herald, level=logging.DEBUG)
    other = logging.StreamHandler(everything)
    other.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(other)
    root.setLevel(logging.DEBUG)
    try:
        yield Captured(herald, everything)
    finally:
        root.removeHandler(other)
        root.setLevel(previous)
        telemetry.configure_logging(sys.stderr)


async def test_a_delivery_logs_json_lines_with_ids_and_no_secret_token_or_payload(
    api: Api, receiver: Receiver, spans: InMemorySpanExporter, captured: Captured
) -> None:
    secret = new_secret()
    header_value = f"hdr-{uuid.uuid4().hex}"
    marker = f"payload-marker-{uuid.uuid4().hex}"
    token = api.mint(api.tenant)
    path = f"logged-{uuid.uuid4().hex[:6]}"

    app_id = await api.create_app("L", token=token)
    endpoint_id = await api.create_endpoint(
        app_id,
        {"url": receiver.url(path, 500, 200), "secret": secret, "headers": {"x-api-key": header_value}},
        token=token,
    )
    payload = {"note": marker, "nested": {"deep": marker}}
    msg_id = await api.create_message(app_id, {"eventType": "invoice.paid", "payload": payload}, token=token)
    ((_, _, workflow_input),) = api.client.started
    await run_activity(workflow_input, attempts=1)
    assert [r.headers["x-api-key"] for r in receiver.wait_for(path, 2)] == [header_value] * 2

    lines = captured.lines()  # every line is one JSON object
    attempts = [line for line in lines if line["message"] == "webhook attempt"]
    assert [a["outcome"] for a in attempts] == ["failure", "success"]
    # A failure is logged at INFO; a success only at DEBUG (HERALD_LOG_LEVEL), as this test asks.
    assert [a["level"] for a in attempts] == ["INFO", "DEBUG"]
    for line in attempts:
        assert {"trace_id", "span_id", "tenant_id", "app_id", "msg_id", "attempt"} <= set(line)
        assert (line["tenant_id"], line["app_id"], line["msg_id"]) == (api.tenant, app_id, msg_id)
    assert attempts[1]["endpoint_id"] == endpoint_id
    assert len({line["trace_id"] for line in attempts}) == 1
    (requested,) = [line for line in lines if line.get("route") == "/api/v1/app/{app_id}/msg"]
    assert requested["status"] == 202 and requested["tenant_id"] == api.tenant

    texts = {
        "herald logs": captured.herald.getvalue(),
        "other logs": captured.everything.getvalue(),
        "spans": repr([(s.name, dict(s.attributes or {}), s.events) for s in spans.get_finished_spans()]),
        "metrics": telemetry.prometheus_text(),
    }
    forbidden = {
        "secret": secret.removeprefix("whsec_"),
        "custom header": header_value,
        "payload": marker,
        "token": token,
        "token signature": token.rsplit(".", 1)[1],
    }
    for where, text in texts.items():
        for what, value in forbidden.items():
            assert value not in text, f"the {what} appears in the {where}"


def test_exceptions_are_logged_with_their_type_and_stack_but_not_their_message() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("herald.tests")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(telemetry.JsonFormatter())
    logger.addHandler(handler)
    secret, token = new_secret(), f"eyJ{uuid.uuid4().hex}.payload.signature"
    try:
        try:
            try:
                raise KeyError(secret)
            except KeyError as inner:
                raise ValueError(token) from inner
        except ValueError:
            logger.exception("it failed", extra={"payload": {"a": 1}, "count": 3})
    finally:
        logger.removeHandler(handler)
    (line,) = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["message"] == "it failed" and line["count"] == 3
    assert "payload" not in line  # not a scalar: dropped
    assert line["exception"]["type"] == "ValueError"
    assert (
        "KeyError" in line["exception"]["stack"] and "raise ValueError(token)" in line["exception"]["stack"]
    )
    assert secret not in stream.getvalue() and token not in stream.getvalue()


def test_the_log_level_setting_applies_to_every_herald_logger() -> None:
    try:
        telemetry.set_log_level("DEBUG")
        assert all(logging.getLogger(name).isEnabledFor(logging.DEBUG) for name in telemetry.LOGGERS)
        telemetry.set_log_level("WARNING")
        assert not any(logging.getLogger(name).isEnabledFor(logging.INFO) for name in telemetry.LOGGERS)
    finally:
        telemetry.set_log_level("INFO")
