"""In-process Herald for telemetry tests: the real blueprints, services and emulators, no devhost.

Spans go to the OpenTelemetry SDK's in-memory exporter; webhooks to loopback receivers. The one
stand-in is the Durable client: it records the workflows a dispatch starts, and the tests run the
workflow's activity themselves, with the input the orchestrator would hand it.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from blueprints import applications, endpoints, messages
from blueprints._http import Handler, serve
from shared.scopes import Scope
from shared.services.registry import Services
from tests.support.histories import durable_function
from tests.support.tokens import Minter

MESSAGE_ROUTE = "v1/app/{app_id}/msg"
_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    """The process's tracer provider, exporting to memory (OpenTelemetry allows one per process),
    behind the processor `telemetry.configure` puts before every exporter."""
    from shared.export_filters import ExceptionTypesOnly

    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
        provider.add_span_processor(ExceptionTypesOnly())
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    return _EXPORTER


@pytest.fixture
def spans(span_exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    span_exporter.clear()
    return span_exporter


@dataclass
class RecordingDurableClient:
    """Answers `get_status` with no instance and records each `start_new`."""

    started: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    async def get_status(self, instance_id: str) -> None:
        return None

    async def start_new(self, name: str, instance_id: str, client_input: dict[str, Any]) -> str:
        self.started.append((name, instance_id, client_input))
        return instance_id


@dataclass
class Api:
    """Calls routes in process, through `serve`, as the HTTP trigger would."""

    mint: Minter
    tenant: str
    client: RecordingDurableClient

    async def call(
        self,
        handler: Handler,
        method: str,
        route: str,
        *,
        scope: Scope | None,
        route_params: dict[str, str] | None = None,
        body: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> func.HttpResponse:
        params = route_params or {}
        path = route.format(**params)
        all_headers = {"content-type": "application/json", **(headers or {})}
        if scope is not None and token != "":  # "": no Authorization header at all
            all_headers["authorization"] = f"Bearer {token or self.mint(self.tenant)}"
        request = func.HttpRequest(
            method=method,
            url=f"http://localhost/api/{path}",
            headers=all_headers,
            params={},
            route_params=params,
            body=json.dumps(body).encode() if body is not None else b"",
        )
        return await serve(request, handler, scope, self.client, route=route)

    async def create_app(self, name: str, *, token: str | None = None) -> str:
        """A new application of the tenant's: its id."""
        body = {"name": name}
        created = await self.call(
            applications.create_application, "POST", "v1/app", scope=Scope.WRITE, token=token, body=body
        )
        return str(json.loads(created.get_body())["id"])

    async def create_endpoint(self, app_id: str, body: dict[str, Any], *, token: str | None = None) -> str:
        """A new endpoint of the application: its id."""
        created = await self.call(
            endpoints.create_endpoint,
            "POST",
            "v1/app/{app_id}/endpoint",
            scope=Scope.WRITE,
            token=token,
            route_params={"app_id": app_id},
            body=body,
        )
        return str(json.loads(created.get_body())["id"])

    async def create_message(
        self,
        app_id: str,
        body: dict[str, Any],
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> str:
        """Creates a message (answered 202) and waits for its dispatch: the message's id."""
        created = await self.call(
            messages.create_message,
            "POST",
            MESSAGE_ROUTE,
            scope=Scope.WRITE,
            token=token,
            route_params={"app_id": app_id},
            body=body,
            headers=headers,
        )
        assert created.status_code == 202, created.get_body()
        await dispatched()
        return str(json.loads(created.get_body())["id"])


@pytest.fixture
def api(in_process: Services, mint: Minter) -> Api:
    return Api(mint=mint, tenant=f"tenant-{uuid.uuid4().hex[:12]}", client=RecordingDurableClient())


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


async def dispatched() -> None:
    """Waits for the background dispatches the API started (first attempts, workflow starts)."""
    from shared.services.registry import get_services

    await (await get_services()).dispatch.settle()


async def run_activity(workflow_input: dict[str, Any], attempts: int) -> dict[str, Any]:
    """The workflow's activity, with the input its orchestrator passes (see delivery_retries)."""
    from blueprints import retries
    from shared.durable import ATTEMPT_ACTIVITY

    activity = durable_function(retries.bp, ATTEMPT_ACTIVITY)
    result: dict[str, Any] = await activity(job={**workflow_input, "attempts": attempts})
    return result


def by_name(finished: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in finished if s.name == name]
