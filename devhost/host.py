"""Start-up, serving and shutdown of one function app.

Each trigger type devhost serves (HTTP, queue, timer, Durable) is a ``TriggerHandler`` listed in
``_handlers``. Functions whose trigger has no handler are named in the log and skipped, so the
rest of the app still runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from devhost.durable import DurableFunctions
from devhost.errors import StartupError
from devhost.hostrules import enforce
from devhost.http import DEFAULT_MAX_BODY_BYTES, HttpTriggers
from devhost.invocation import Invoker
from devhost.loader import BindingSpec, FunctionSpec, apply_local_settings, read_host_json, route_prefix
from devhost.queues import DEFAULT_LEASE_SECONDS, QueueOptions, QueueTriggers
from devhost.timers import TimerTriggers
from devhost.worker import Worker

logger = logging.getLogger(__name__)

# How long in-flight requests may take to finish after SIGTERM/SIGINT.
SHUTDOWN_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class HostConfig:
    app_dir: Path
    app: str = "function_app"
    host: str = "127.0.0.1"
    port: int = 7071
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    queue_lease_seconds: int = DEFAULT_LEASE_SECONDS


class TriggerHandler(Protocol):
    trigger_type: str

    def accepts_binding(self, binding: BindingSpec) -> bool:
        """Whether a non-trigger binding of a function with this trigger can be served."""

    def add_function(self, spec: FunctionSpec) -> None:
        """Take a function to serve; raise StartupError if it cannot be."""

    def describe(self, base_url: str) -> list[str]:
        """One line per served function, for the start-up listing."""

    def setup(self, web_app: web.Application) -> None:
        """Attach routes and start/stop hooks (``web_app.cleanup_ctx``) to the server."""


def run(config: HostConfig) -> int:
    """Serve until SIGTERM/SIGINT; returns the process exit code."""
    try:
        asyncio.run(serve(config))
    except StartupError as exc:
        logger.error("devhost cannot start: %s", exc)
        return 1
    except Exception:  # e.g. the app module raised while being imported
        logger.exception("devhost cannot start")
        return 1
    return 0


async def serve(config: HostConfig, stop: asyncio.Event | None = None) -> None:
    """Load the app, serve it until ``stop`` is set (or a signal arrives), then shut down."""
    stop = stop or _stop_on_signals()
    applied = apply_local_settings(config.app_dir, os.environ)
    if applied:
        logger.info("local.settings.json: set %s", ", ".join(sorted(applied)))
    host_json = read_host_json(config.app_dir)
    worker = Worker(config.app_dir)
    # Indexed inside the running loop, so module-level code that looks up the event loop finds the
    # one every async invocation will run on.
    functions = enforce(await worker.index(_script_file(config.app_dir, config.app)), os.environ)
    await worker.load(functions)
    invoker = Invoker(worker)
    handlers = _handlers(invoker, config, host_json)
    _assign(functions, handlers)

    web_app = web.Application()
    for handler in handlers.values():
        handler.setup(web_app)
    runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_SECONDS)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, config.host, config.port).start()
        except OSError as exc:
            raise StartupError(f"cannot listen on {config.host}:{config.port}: {exc}") from exc
        base_url = f"http://{config.host}:{config.port}/"
        lines = [line for handler in handlers.values() for line in handler.describe(base_url)]
        logger.info("Functions:\n%s", "\n".join(f"    {line}" for line in lines) or "    (none)")
        logger.info("devhost listening on %s", base_url)
        await stop.wait()
        logger.info("devhost shutting down")
    finally:
        await runner.cleanup()
        worker.shutdown()
    logger.info("devhost stopped")


def _script_file(app_dir: Path, module: str) -> str:
    """The script the worker runtime indexes (its PYTHON_SCRIPT_FILE_NAME), from ``--app``."""
    if ":" in module:
        # The runtime indexes the one function app at module level; several are refused on Azure.
        raise StartupError(f"--app {module}: name the module only; Azure indexes its one function app")
    script = f"{module}.py"
    if not (app_dir / script).is_file():
        raise StartupError(f"cannot import '{module}' from {app_dir}: {script} not found")
    return script


def _handlers(invoker: Invoker, config: HostConfig, host_json: dict[str, Any]) -> dict[str, TriggerHandler]:
    http = HttpTriggers(invoker, route_prefix=route_prefix(host_json), max_body_bytes=config.max_body_bytes)
    queues = QueueTriggers(
        invoker,
        options=QueueOptions.from_host_json(host_json),
        lease_seconds=config.queue_lease_seconds,
        shutdown_grace_seconds=SHUTDOWN_GRACE_SECONDS,
    )
    timers = TimerTriggers(invoker, shutdown_grace_seconds=SHUTDOWN_GRACE_SECONDS)
    durable = DurableFunctions(
        invoker,
        app_dir=config.app_dir,
        host_json=host_json,
        environ=os.environ,
        origin=f"http://{_reachable_host(config.host)}:{config.port}",
        shutdown_grace_seconds=SHUTDOWN_GRACE_SECONDS,
    )
    # Durable first: its /runtime/webhooks/durabletask routes must precede the HTTP catch-all.
    handlers: dict[str, TriggerHandler] = {handler.trigger_type: handler for handler in durable.handlers()}
    return {**handlers, http.trigger_type: http, queues.trigger_type: queues, timers.trigger_type: timers}


def _reachable_host(host: str) -> str:
    """The address the durable client binding's status URLs name: a wildcard bind is not callable."""
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _assign(functions: list[FunctionSpec], handlers: dict[str, TriggerHandler]) -> None:
    """Give each function to its trigger's handler; refuse the app if any cannot be served."""
    refusals: list[str] = []
    for spec in functions:
        handler = handlers.get(spec.trigger.type)
        if handler is None:
            logger.warning(
                "function %s: trigger %s is not served by devhost yet; skipped",
                spec.name,
                spec.trigger.type,
            )
            continue
        unsupported = [b for b in spec.bindings if not handler.accepts_binding(b)]
        refusals.extend(
            f"function {spec.name}: binding '{b.name}' of type {b.type} ({b.direction}) "
            "is not supported by devhost"
            for b in unsupported
        )
        if not unsupported:
            try:
                handler.add_function(spec)
            except StartupError as exc:
                refusals.append(str(exc))
    if refusals:
        raise StartupError("\n  " + "\n  ".join(refusals))


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def request_stop(signum: int) -> None:
        if stop.is_set():
            # A second signal means "now": in-flight work is abandoned.
            logger.warning("devhost: second %s, exiting immediately", signal.Signals(signum).name)
            os._exit(1)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        # Without signal support (Windows, a non-main thread) the caller's stop event must be used.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, request_stop, signum)
    return stop
