"""Durable Functions as devhost trigger handlers: orchestrations, activities, and a refusal for entities.

``DurableFunctions`` owns what the handlers share: the options, the function table, the SQLite
store and engine (opened when the server starts), the client API routes, and the provider that
gives every function's ``durableClient`` input its value.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from devhost.background import Stopping
from devhost.durable.binding import PUBLIC_PATH, RPC_PATH, client_binding_value
from devhost.durable.client_api import DurableClientApi
from devhost.durable.config import DurableOptions
from devhost.durable.engine import DurableEngine, FunctionTable, activity_name, orchestrator_name
from devhost.durable.store import DurableStore
from devhost.errors import StartupError
from devhost.invocation import Invoker
from devhost.loader import BindingSpec, FunctionSpec

logger = logging.getLogger(__name__)

ORCHESTRATION_TRIGGER = "orchestrationTrigger"
ACTIVITY_TRIGGER = "activityTrigger"
ENTITY_TRIGGER = "entityTrigger"
DURABLE_CLIENT = "durableClient"
# The client's RPC endpoint is reachable from this process only.
RPC_HOST = "127.0.0.1"


class DurableFunctions:
    def __init__(
        self,
        invoker: Invoker,
        *,
        app_dir: Path,
        host_json: Mapping[str, Any],
        environ: Mapping[str, str],
        origin: str,
        shutdown_grace_seconds: float,
    ) -> None:
        """``origin`` is where the app's port is reachable (``http://127.0.0.1:7071``), for status URLs."""
        self.options = DurableOptions.load(app_dir, host_json, environ)
        self._invoker = invoker
        self._origin = origin
        self._orchestrators: dict[str, FunctionSpec] = {}
        self._activities: dict[str, FunctionSpec] = {}
        self._stopping = Stopping(shutdown_grace_seconds)
        self._engine: DurableEngine | None = None
        self._rpc_origin: str | None = None
        self._binding_values: dict[str, str] = {}
        self._api = DurableClientApi(lambda: self.engine, self.options.hub_name)
        invoker.provide_input(DURABLE_CLIENT, self._client_binding)

    def handlers(self) -> list[OrchestrationTriggers | ActivityTriggers | EntityTriggers]:
        return [OrchestrationTriggers(self), ActivityTriggers(self, self._invoker), EntityTriggers()]

    def _client_binding(self, spec: FunctionSpec, binding: BindingSpec) -> str:
        if self._rpc_origin is None:
            # The engine (and its RPC endpoint) runs only for apps with durable functions.
            raise RuntimeError(
                f"function {spec.name}: a durable client needs orchestrator functions in the app"
            )
        hub = str(binding.raw.get("taskHub") or self.options.hub_name)
        if hub not in self._binding_values:
            self._binding_values[hub] = client_binding_value(
                origin=self._origin, rpc_origin=self._rpc_origin, hub=hub
            )
        return self._binding_values[hub]

    @staticmethod
    def _add(table: dict[str, FunctionSpec], name: str, spec: FunctionSpec, kind: str) -> None:
        key = name.casefold()
        if key in table:
            raise StartupError(f"functions {table[key].name} and {spec.name} are both the {kind} '{name}'")
        table[key] = spec

    def add_orchestrator(self, spec: FunctionSpec) -> None:
        self._add(self._orchestrators, orchestrator_name(spec), spec, "orchestrator")

    def add_activity(self, spec: FunctionSpec) -> None:
        self._add(self._activities, activity_name(spec), spec, "activity")

    @property
    def engine(self) -> DurableEngine:
        if self._engine is None:
            raise RuntimeError("the durable engine starts with the server")
        return self._engine

    def setup(self, web_app: web.Application) -> None:
        # No durable functions, no store: a plain HTTP app leaves no SQLite file behind.
        if not self._orchestrators and not self._activities:
            return
        self._api.add_routes(web_app.router, PUBLIC_PATH)
        self._stopping.attach(web_app)
        # Registered before other handlers' start-up work (durable handlers come first), so the
        # engine and the RPC endpoint are up before a timer or queue function can use a client.
        web_app.cleanup_ctx.append(self._serve)

    async def _serve(self, _web_app: web.Application) -> AsyncIterator[None]:
        store = DurableStore(self.options.db_path)
        self._engine = DurableEngine(
            store=store,
            invoker=self._invoker,
            options=self.options,
            functions=FunctionTable(self._orchestrators, self._activities),
            stopping=self._stopping,
        )
        rpc = await self._start_rpc_endpoint()
        logger.info(
            "durable: store %s, task hub %s, timer scale %g, client RPC at %s, %d unfinished instance(s)",
            store.path,
            self.options.hub_name,
            self.options.timer_scale,
            self._rpc_origin,
            self._engine.in_flight(),
        )
        running = asyncio.create_task(self._engine.run(), name="durable-engine")
        try:
            yield
        finally:
            # The engine stopped dispatching when shutdown began; the store and the RPC endpoint
            # stay up until now, after HTTP requests and other handlers' work (cleaned up first).
            self._stopping.set()
            await running
            await rpc.cleanup()
            store.close()
            await _close_client_session()

    async def _start_rpc_endpoint(self) -> web.AppRunner:
        """The client's API on a loopback port of its own, like the Durable extension's local RPC."""
        rpc_app = web.Application()
        self._api.add_routes(rpc_app.router, RPC_PATH)
        runner = web.AppRunner(rpc_app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, RPC_HOST, 0)
        await site.start()
        port = runner.addresses[0][1]
        self._rpc_origin = f"http://{RPC_HOST}:{port}"
        return runner

    def describe_orchestrators(self, base_url: str) -> list[str]:
        lines = [
            _describe(spec, orchestrator_name(spec), ORCHESTRATION_TRIGGER)
            for spec in self._orchestrators.values()
        ]
        if lines:
            lines.append(f"durable status API: {base_url.rstrip('/')}{PUBLIC_PATH}/instances/{{id}}")
        return lines

    def describe_activities(self) -> list[str]:
        return [_describe(spec, activity_name(spec), ACTIVITY_TRIGGER) for spec in self._activities.values()]


class OrchestrationTriggers:
    trigger_type = ORCHESTRATION_TRIGGER

    def __init__(self, durable: DurableFunctions) -> None:
        self._durable = durable

    def accepts_binding(self, binding: BindingSpec) -> bool:
        # Orchestrators must stay deterministic: the Durable extension allows them no other bindings.
        return False

    def add_function(self, spec: FunctionSpec) -> None:
        self._durable.add_orchestrator(spec)

    def describe(self, base_url: str) -> list[str]:
        return self._durable.describe_orchestrators(base_url)

    def setup(self, web_app: web.Application) -> None:
        # Sets up what all durable handlers share; the activity handler relies on this.
        self._durable.setup(web_app)


class ActivityTriggers:
    trigger_type = ACTIVITY_TRIGGER

    def __init__(self, durable: DurableFunctions, invoker: Invoker) -> None:
        self._durable = durable
        self._invoker = invoker

    def accepts_binding(self, binding: BindingSpec) -> bool:
        # An activity may start or query orchestrations through a durable client.
        return self._invoker.provides(binding)

    def add_function(self, spec: FunctionSpec) -> None:
        self._durable.add_activity(spec)

    def describe(self, base_url: str) -> list[str]:
        return self._durable.describe_activities()

    def setup(self, web_app: web.Application) -> None:
        """Nothing of its own: the orchestration handler starts the shared engine."""


class EntityTriggers:
    """Durable entities are out of scope: an app that has one is refused, not half-served."""

    trigger_type = ENTITY_TRIGGER

    def accepts_binding(self, binding: BindingSpec) -> bool:
        return True  # the trigger itself is the reason to refuse

    def add_function(self, spec: FunctionSpec) -> None:
        raise StartupError(f"function {spec.name}: entityTrigger not supported by devhost")

    def describe(self, base_url: str) -> list[str]:
        return []

    def setup(self, web_app: web.Application) -> None:
        """Never has functions to serve."""


def _describe(spec: FunctionSpec, durable_name: str, trigger: str) -> str:
    alias = f" as '{durable_name}'" if durable_name != spec.name else ""
    return f"{spec.name}: [{trigger}]{alias}"


async def _close_client_session() -> None:
    """Close the aiohttp session the SDK's durable client keeps for the process.

    The worker never closes it (the process just ends); devhost's orderly shutdown would otherwise
    end with asyncio's "Unclosed client session" errors.
    """
    from azure.durable_functions.models.utils import http_utils

    close = getattr(http_utils, "_close_session", None)
    if close is not None:
        await close()
