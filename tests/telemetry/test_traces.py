"""One trace follows a message: API request, dispatch, first attempt, retry activity, later attempts."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, SpanKind, StatusCode

from tests.support.histories import RETRY_JOB, History, actions, durable_function
from tests.support.receivers import Receiver
from tests.telemetry.conftest import MESSAGE_ROUTE, Api, by_name, run_activity

INVOICE = {"eventType": "invoice.paid", "payload": {"invoice": "in_1"}}


def _context(span: ReadableSpan) -> SpanContext:
    context = span.get_span_context()
    assert context is not None
    return context


def _trace_and_span(span: ReadableSpan) -> str:
    return f"00-{_context(span).trace_id:032x}-{_context(span).span_id:016x}"


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent else None


def _span_id(span: ReadableSpan) -> int:
    return _context(span).span_id


async def _failed_then_retried(
    api: Api, receiver: Receiver, spans: InMemorySpanExporter
) -> tuple[str, str, str, dict[str, ReadableSpan], list[ReadableSpan]]:
    path = f"flaky-{uuid.uuid4().hex[:6]}"
    app_id = await api.create_app("Traced")
    endpoint_id = await api.create_endpoint(app_id, {"url": receiver.url(path, 500, 200)})
    spans.clear()
    msg_id = await api.create_message(app_id, INVOICE)
    ((workflow, _, workflow_input),) = api.client.started
    outcome = await run_activity(workflow_input, attempts=1)
    assert outcome["status"] == "success"
    finished = spans.get_finished_spans()
    (root,) = by_name(finished, f"POST /api/{MESSAGE_ROUTE}")
    (dispatch,) = by_name(finished, "herald.dispatch")
    (retry,) = by_name(finished, "herald.retry")
    named = {"root": root, "dispatch": dispatch, "retry": retry}
    attempts = sorted(by_name(finished, "herald.attempt"), key=lambda s: s.start_time or 0)
    assert workflow == "delivery_retries_v1"
    return app_id, endpoint_id, msg_id, named, attempts


async def test_a_message_is_one_trace_from_the_api_call_through_every_attempt(
    api: Api, receiver: Receiver, spans: InMemorySpanExporter
) -> None:
    app_id, endpoint_id, msg_id, named, attempts = await _failed_then_retried(api, receiver, spans)
    root, dispatch, retry = named["root"], named["dispatch"], named["retry"]
    first, second = attempts

    assert len({_context(s).trace_id for s in [root, dispatch, retry, first, second]}) == 1
    assert root.parent is None and root.kind == SpanKind.SERVER
    assert _parent_id(dispatch) == _span_id(root)
    assert _parent_id(first) == _span_id(dispatch)
    # The workflow carried the dispatch's context across the Durable boundary.
    assert _parent_id(retry) == _span_id(dispatch)
    assert _parent_id(second) == _span_id(retry)

    attributes = dict(root.attributes or {})
    assert attributes["http.request.method"] == "POST"
    assert attributes["http.route"] == f"/api/{MESSAGE_ROUTE}"
    assert attributes["http.response.status_code"] == 202
    assert attributes["herald.app_id"] == app_id
    assert attributes["herald.tenant_id"] == api.tenant
    assert dict(dispatch.attributes or {})["herald.msg_id"] == msg_id
    assert {k: v for k, v in (retry.attributes or {}).items() if k.startswith("herald.")} == {
        "herald.tenant_id": api.tenant,
        "herald.app_id": app_id,
        "herald.msg_id": msg_id,
        "herald.endpoint_id": endpoint_id,
        "herald.attempt": 2,
    }


async def test_attempt_spans_are_http_client_spans_with_the_outcome(
    api: Api, receiver: Receiver, spans: InMemorySpanExporter
) -> None:
    _, endpoint_id, msg_id, _, (first, second) = await _failed_then_retried(api, receiver, spans)
    for span, attempt, status in ((first, 1, 500), (second, 2, 200)):
        attributes = dict(span.attributes or {})
        assert span.kind == SpanKind.CLIENT
        assert attributes["http.request.method"] == "POST"
        assert attributes["http.response.status_code"] == status
        assert attributes["server.address"] == "127.0.0.1"
        assert attributes["url.scheme"] == "http"
        assert attributes["herald.msg_id"] == msg_id
        assert attributes["herald.attempt"] == attempt
    assert dict(second.attributes or {})["herald.endpoint_id"] == endpoint_id
    assert first.status.status_code == StatusCode.ERROR
    assert dict(first.attributes or {})["error.type"] == "500"
    assert second.status.status_code != StatusCode.ERROR
    # The URL's path may hold a receiver's token: no attribute carries it.
    assert not any(
        "flaky-" in str(value) for span in (first, second) for value in (span.attributes or {}).values()
    )


async def test_first_attempt_spans_name_their_endpoint(
    api: Api, receiver: Receiver, spans: InMemorySpanExporter
) -> None:
    _, endpoint_id, _, _, (first, _) = await _failed_then_retried(api, receiver, spans)
    assert dict(first.attributes or {}).get("herald.endpoint_id") == endpoint_id


async def test_each_webhook_request_carries_its_attempt_span_as_traceparent(
    api: Api, receiver: Receiver, spans: InMemorySpanExporter
) -> None:
    path = f"tp-{uuid.uuid4().hex[:6]}"
    app_id = await api.create_app("Traced")
    await api.create_endpoint(app_id, {"url": receiver.url(path, 503, 200)})
    spans.clear()
    await api.create_message(app_id, INVOICE)
    ((_, _, workflow_input),) = api.client.started
    await run_activity(workflow_input, attempts=1)
    attempts = sorted(by_name(spans.get_finished_spans(), "herald.attempt"), key=lambda s: s.start_time or 0)
    received = receiver.wait_for(path, 2)
    # version-trace_id-parent_id; the flags follow (sampled, and the SDK's random-trace-id bit).
    assert [r.headers["traceparent"][:52] for r in received] == [_trace_and_span(s) for s in attempts]


async def test_a_callers_traceparent_is_continued(
    api: Api, receiver: Receiver, spans: InMemorySpanExporter
) -> None:
    app_id = await api.create_app("Traced")
    await api.create_endpoint(app_id, {"url": receiver.url(f"ok-{uuid.uuid4().hex[:6]}", 200)})
    spans.clear()
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    await api.create_message(app_id, INVOICE, headers={"traceparent": caller})
    finished = spans.get_finished_spans()
    assert {f"{_context(s).trace_id:032x}" for s in finished} == {"0af7651916cd43dd8448eb211c80319c"}
    (root,) = by_name(finished, f"POST /api/{MESSAGE_ROUTE}")
    assert root.parent is not None and root.parent.span_id == 0xB7AD6B7169203331
    assert api.client.started == []  # a success starts no workflow


def test_the_workflow_hands_the_trace_context_to_every_activity() -> None:
    """Replayed by the Durable SDK: the orchestrator passes its whole input, traceparent included."""
    from blueprints import retries
    from shared.durable import ATTEMPT_ACTIVITY, RETRY_WORKFLOW

    workflow_input: dict[str, Any] = {
        **RETRY_JOB,
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    }
    history = (
        History(
            RETRY_WORKFLOW,
            workflow_input,
            instance_id="dlv~t1~app_1~msg_1~ep_1",
            at="2026-01-01T00:00:00Z",
        )
        .timer_created("2026-01-01T00:00:05Z")
        .episode("2026-01-01T00:00:05.1Z")
        .timer_fired()
    )
    activity = actions(history.replay(durable_function(retries.bp, RETRY_WORKFLOW)))[-1]
    assert activity["functionName"] == ATTEMPT_ACTIVITY
    assert json.loads(activity["input"])["traceparent"] == workflow_input["traceparent"]


def test_a_failing_step_is_marked_with_its_error_type_but_not_its_message(
    spans: InMemorySpanExporter,
) -> None:
    from shared import telemetry

    secret = f"whsec_{uuid.uuid4().hex}"
    with pytest.raises(KeyError), telemetry.span("herald.step", msg_id="msg_1"):
        raise KeyError(secret)
    (step,) = spans.get_finished_spans()
    assert step.status.status_code == StatusCode.ERROR
    assert dict(step.attributes or {})["error.type"] == "KeyError"
    assert not step.events
    assert secret not in repr((step.attributes, step.status.description, step.events))
