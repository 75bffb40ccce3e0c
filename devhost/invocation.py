"""Calling user functions the way the Python worker does, whatever the trigger.

Async functions run on the host's single event loop, so clients an app creates lazily (aiohttp
sessions, SDK ``aio`` clients, locks) stay bound to one loop for the life of the process. Sync
functions run in a thread pool so they cannot stall that loop.

Input bindings whose value does not depend on the trigger (the durable client) are supplied here,
by a provider registered per binding type, so every trigger handler gets them for free.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Generic, TypeVar

import azure.functions as func

# Not re-exported by azure.functions; these are the ABCs the worker's own context implements.
from azure.functions._abc import RetryContext, TraceContext

from devhost.loader import BindingSpec, FunctionSpec

logger = logging.getLogger("devhost.invocations")

# The worker passes an invocation context to a parameter with this name when no binding claims it.
CONTEXT_PARAMETER = "context"
# The worker's own knob for the sync thread pool; honoured so apps tuned for Azure behave alike.
THREAD_COUNT_VARIABLE = "PYTHON_THREADPOOL_THREAD_COUNT"

SUCCEEDED = "Succeeded"
FAILED = "Failed"

T = TypeVar("T")

# Computes the value of one input binding of one function, at invocation time.
InputProvider = Callable[[FunctionSpec, BindingSpec], Any]


class Output(func.Out[T], Generic[T]):
    """The value behind a ``func.Out`` parameter of a non-``$return`` output binding."""

    def __init__(self) -> None:
        self._value: T | None = None

    def set(self, val: T) -> None:
        self._value = val

    def get(self) -> T:
        return self._value  # type: ignore[return-value]  # None until the function sets it


class _NoTraceContext(TraceContext):
    """No distributed tracing locally: empty W3C trace context."""

    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return ""

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _NoRetryContext(RetryContext):
    """devhost does not retry HTTP invocations (neither does the Functions host)."""

    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Any:
        return None


class InvocationContext(func.Context):
    """What a function's ``context`` parameter receives."""

    def __init__(self, function_name: str, invocation_id: str, function_directory: str) -> None:
        self._function_name = function_name
        self._invocation_id = invocation_id
        self._function_directory = function_directory
        self._thread_local_storage = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> threading.local:  # type: ignore[override]
        return self._thread_local_storage

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> TraceContext:
        return _NoTraceContext()

    @property
    def retry_context(self) -> RetryContext:
        return _NoRetryContext()


class Invoker:
    """Runs user functions; one per host process."""

    def __init__(self, app_dir: Path) -> None:
        self._app_dir = app_dir
        thread_count = os.environ.get(THREAD_COUNT_VARIABLE)
        self._executor = ThreadPoolExecutor(
            max_workers=int(thread_count) if thread_count else None,
            thread_name_prefix="devhost-sync",
        )
        self._input_providers: dict[str, InputProvider] = {}

    def provide_input(self, binding_type: str, provider: InputProvider) -> None:
        """Supply every input binding of ``binding_type``, for functions of any trigger."""
        self._input_providers[binding_type] = provider

    def provides(self, binding: BindingSpec) -> bool:
        """Whether ``call`` fills in this binding itself."""
        return binding.direction == "in" and binding.type in self._input_providers

    @staticmethod
    def new_invocation_id() -> str:
        return str(uuid.uuid4())

    def _wants_context(self, spec: FunctionSpec) -> bool:
        bound = {spec.trigger.name, *(b.name for b in spec.bindings)}
        return CONTEXT_PARAMETER in spec.parameters and CONTEXT_PARAMETER not in bound

    async def call(self, spec: FunctionSpec, kwargs: dict[str, Any], invocation_id: str) -> Any:
        """Call ``spec``'s function with keyword arguments; its exceptions propagate.

        Provided input bindings the caller did not set are added.
        """
        provided = {
            binding.name: self._input_providers[binding.type](spec, binding)
            for binding in spec.bindings
            if self.provides(binding) and binding.name not in kwargs
        }
        if provided:
            kwargs = {**kwargs, **provided}
        if self._wants_context(spec):
            kwargs = {
                **kwargs,
                CONTEXT_PARAMETER: InvocationContext(spec.name, invocation_id, str(self._app_dir)),
            }
        if spec.is_async:
            return await spec.user_function(**kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(spec.user_function, **kwargs))

    async def run_sync(self, function: Callable[..., T], *args: Any) -> T:
        """Run a plain callable on the sync pool (e.g. an orchestrator's replay), positionally."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args))

    def shutdown(self) -> None:
        # Running sync invocations finish on their own; queued ones would only delay exit.
        self._executor.shutdown(wait=False, cancel_futures=True)


def log_invocation(
    spec: FunctionSpec,
    *,
    trigger: str,
    detail: str,
    outcome: str,
    duration_ms: float,
    invocation_id: str,
) -> None:
    """The one line every invocation leaves, whatever the trigger."""
    logger.log(
        logging.INFO if outcome == SUCCEEDED else logging.WARNING,
        "Executed '%s' [%s] %s (%s, %.1f ms, id=%s)",
        spec.name,
        trigger,
        detail,
        outcome,
        duration_ms,
        invocation_id,
    )
