"""Invoking functions, whatever the trigger: the host's side of an invocation request.

Each trigger handler builds its trigger's input the way the Functions host sends it (protobuf
``TypedData``); the worker runtime converts it, calls the function and encodes the results. Input
bindings whose value does not depend on the trigger (the durable client) are supplied here, by a
provider registered per binding type, so every trigger handler gets them for free.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from devhost.loader import BindingSpec, FunctionSpec
from devhost.worker import FunctionFailed, Invocation, Worker, typed_string

logger = logging.getLogger("devhost.invocations")

SUCCEEDED = "Succeeded"
FAILED = "Failed"
# The input bindings a provider supplies (``provide_input``) whatever the trigger; the queue and timer
# handlers accept them by type.
INJECTED_BINDINGS = frozenset({"durableClient"})

# Computes the value (a string, as the host sends it) of one input binding of one function.
InputProvider = Callable[[FunctionSpec, BindingSpec], str]


class Invoker:
    """Sends invocation requests to the worker runtime; one per host process."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self._input_providers: dict[str, InputProvider] = {}

    def provide_input(self, binding_type: str, provider: InputProvider) -> None:
        """Supply every input binding of ``binding_type``, for functions of any trigger."""
        self._input_providers[binding_type] = provider

    def provides(self, binding: BindingSpec) -> bool:
        """Whether ``invoke`` fills in this binding itself."""
        return binding.direction == "in" and binding.type in self._input_providers

    @staticmethod
    def new_invocation_id() -> str:
        return str(uuid.uuid4())

    async def invoke(
        self,
        spec: FunctionSpec,
        invocation_id: str,
        trigger_input: Any,
        trigger_metadata: Mapping[str, Any] | None = None,
    ) -> Invocation:
        """Invoke ``spec`` with its trigger's ``TypedData``; raises ``FunctionFailed`` on failure."""
        inputs = {spec.trigger.name: trigger_input}
        for binding in spec.bindings:
            if self.provides(binding):
                inputs[binding.name] = typed_string(self._input_providers[binding.type](spec, binding))
        return await self._worker.invoke(spec, invocation_id, inputs, trigger_metadata)


def log_failure(spec: FunctionSpec, invocation_id: str, exc: Exception) -> None:
    """A failed invocation's error and traceback, for the host log only: the text can carry secrets."""
    trace = exc.stack_trace if isinstance(exc, FunctionFailed) else ""
    logger.warning(
        "Exception while executing function: %s (id=%s): %s\n%s",
        spec.name,
        invocation_id,
        exc,
        trace,
        exc_info=None if trace else exc,
    )


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
