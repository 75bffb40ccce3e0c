"""The worker side of the app, run in process by Microsoft's own worker runtime.

From Python 3.13 Azure runs a thin proxy worker that hands the Functions host's protobuf messages
to ``azure-functions-runtime``, the library the app pins in requirements.txt. devhost plays that
proxy: it builds the messages the host would send (worker init, functions metadata, function load,
invocation) and passes them to the same library. Indexing (with every annotation and binding check
the runtime makes), binding conversion, invocation (sync thread pool, async loop, ``context``) and
error reporting are the runtime's; devhost never calls a user function itself.

The protobuf messages come from ``_azure_functions_rpc``, the generated module Microsoft ships in
the ``azure-functions-runtime-v1`` wheel, installed by scripts/install_worker_protos.py.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _azure_functions_rpc as protos
import azure_functions_runtime as runtime

from devhost.errors import StartupError
from devhost.hostrules import IndexedFunction
from devhost.loader import BindingSpec, FunctionSpec

logger = logging.getLogger(__name__)

# The app setting the runtime reads for the script to index (its default: function_app.py).
SCRIPT_FILE_SETTING = "PYTHON_SCRIPT_FILE_NAME"
# What the host tells the worker about itself at init.
HOST_VERSION = "4.0.0"


class Request:
    """What the proxy worker hands the runtime: the host's message and the proxy's properties."""

    def __init__(self, message: Any, properties: Mapping[str, Any]) -> None:
        self.request = message
        self.properties = dict(properties)


class FunctionFailed(Exception):
    """The runtime reported a failed invocation: the user's exception, or a conversion error."""

    def __init__(self, message: str, stack_trace: str) -> None:
        super().__init__(message)
        self.message = message
        self.stack_trace = stack_trace


@dataclass(frozen=True)
class Invocation:
    """An invocation's results as the runtime returned them (protobuf ``TypedData``)."""

    return_value: Any | None
    outputs: Mapping[str, Any]


def typed_string(value: str) -> Any:
    return protos.TypedData(string=value)


def typed_json(value: str) -> Any:
    return protos.TypedData(json=value)


def typed_bytes(value: bytes) -> Any:
    return protos.TypedData(bytes=value)


def typed_http(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    params: Mapping[str, str],
    body: bytes,
) -> Any:
    """An HTTP request as the host sends it to a worker that asked for raw body bytes."""
    return protos.TypedData(
        http=protos.RpcHttp(
            method=method,
            url=url,
            headers=dict(headers),
            query=dict(query),
            params=dict(params),
            body=protos.TypedData(bytes=body),
        )
    )


def text_of(data: Any | None) -> str | None:
    """The text of a string or JSON ``TypedData`` (how the runtime encodes Durable results)."""
    if data is None:
        return None
    kind = data.WhichOneof("data")
    if kind in ("string", "json"):
        return str(getattr(data, kind))
    if kind == "bytes":
        return bytes(data.bytes).decode("utf-8")
    return None


class Worker:
    """The runtime, driven as the proxy worker drives it; one per host process (it keeps globals)."""

    def __init__(self, app_dir: Path) -> None:
        self._app_dir = app_dir
        self._properties = {"protos": protos, "host": "127.0.0.1"}

    async def index(self, script_file: str) -> list[IndexedFunction]:
        """Index the app as Azure does; a refusal of any function refuses the whole app."""
        os.environ.setdefault(SCRIPT_FILE_SETTING, script_file)
        if str(self._app_dir) not in sys.path:
            sys.path.insert(0, str(self._app_dir))
        runtime.start_threadpool_executor()
        init = await runtime.worker_init_request(
            self._request(
                worker_init_request=protos.WorkerInitRequest(
                    host_version=HOST_VERSION, function_app_directory=str(self._app_dir)
                )
            )
        )
        _raise_for_startup(init.result, "the worker runtime refused the app")
        metadata = await runtime.functions_metadata_request(
            self._request(functions_metadata_request=protos.FunctionsMetadataRequest())
        )
        _raise_for_startup(metadata.result, "the worker runtime refused the app")
        if not metadata.function_metadata_results:
            raise StartupError(f"the worker runtime found no functions in {self._app_dir / script_file}")
        return [_indexed(item) for item in metadata.function_metadata_results]

    async def load(self, functions: list[FunctionSpec]) -> None:
        """The host's load request per function, sent once its metadata passed the host's rules."""
        for spec in functions:
            loaded = await runtime.function_load_request(
                self._request(
                    function_load_request=protos.FunctionLoadRequest(
                        function_id=spec.function_id,
                        metadata=protos.RpcFunctionMetadata(name=spec.name),
                    )
                )
            )
            _raise_for_startup(loaded.result, f"function {spec.name} failed to load")

    async def invoke(
        self,
        spec: FunctionSpec,
        invocation_id: str,
        inputs: Mapping[str, Any],
        trigger_metadata: Mapping[str, Any] | None = None,
    ) -> Invocation:
        """One invocation; raises ``FunctionFailed`` when the runtime reports a failure."""
        request = protos.InvocationRequest(
            invocation_id=invocation_id,
            function_id=spec.function_id,
            input_data=[protos.ParameterBinding(name=name, data=data) for name, data in inputs.items()],
            trigger_metadata=dict(trigger_metadata or {}),
        )
        response = await runtime.invocation_request(self._request(invocation_request=request))
        if response.result.status != protos.StatusResult.Success:
            exception = response.result.exception
            raise FunctionFailed(exception.message, exception.stack_trace)
        return_value = response.return_value if response.HasField("return_value") else None
        return Invocation(
            return_value=return_value,
            outputs={binding.name: binding.data for binding in response.output_data},
        )

    def shutdown(self) -> None:
        runtime.stop_threadpool_executor()

    def _request(self, **message: Any) -> Request:
        return Request(protos.StreamingMessage(**message), self._properties)


def _raise_for_startup(result: Any, what: str) -> None:
    if result.status != protos.StatusResult.Success:
        raise StartupError(f"{what}: {result.exception.message}")


def _indexed(metadata: Any) -> IndexedFunction:
    return IndexedFunction(
        name=str(metadata.name),
        function_id=str(metadata.function_id),
        bindings=tuple(_binding(json.loads(raw)) for raw in metadata.raw_bindings),
    )


def _binding(raw: Mapping[str, Any]) -> BindingSpec:
    return BindingSpec(
        name=str(raw.get("name")),
        type=str(raw.get("type")),
        direction=str(raw.get("direction", "")).lower(),
        raw=dict(raw),
    )
