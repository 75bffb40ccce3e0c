"""Indexes a Functions app the way Azure's Python worker does; prints its functions as JSON.

Run in a clean interpreter (`python -I index_app.py <app directory>`, empty environment): the
pinned `azure-functions-runtime` gets the same two requests the host's proxy worker passes it,
worker init (which indexes the app) and functions metadata, with the host's protobuf messages.
Prints `{"functions": [{"name", "bindings"}], "registers": N}`; on a refusal, prints the
runtime's exception message and exits 1.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import _azure_functions_rpc as protos
import azure_functions_runtime


@dataclass
class Request:
    """What the proxy worker hands the runtime: the host's message and its own properties."""

    request: Any
    properties: dict[str, Any]


async def index(root: Path) -> dict[str, Any]:
    message = protos.StreamingMessage(
        worker_init_request=protos.WorkerInitRequest(function_app_directory=str(root))
    )
    request = Request(message, {"protos": protos, "host": "127.0.0.1"})
    init = await azure_functions_runtime.worker_init_request(request)
    if init.result.status != protos.StatusResult.Success:
        raise SystemExit(f"worker init failed: {init.result.exception.message}")
    metadata = await azure_functions_runtime.functions_metadata_request(request)
    if metadata.result.status != protos.StatusResult.Success:
        raise SystemExit(f"functions metadata failed: {metadata.result.exception.message}")
    functions = [
        {"name": function.name, "bindings": [json.loads(raw) for raw in function.raw_bindings]}
        for function in metadata.function_metadata_results
    ]
    return {"functions": functions, "registers": _registers(sys.modules["function_app"])}


def _registers(module: ModuleType) -> int:
    """Function apps (FunctionRegister objects) at module level: the worker wants exactly one."""
    from azure.functions import FunctionRegister

    return sum(isinstance(value, FunctionRegister) for value in vars(module).values())


def main() -> None:
    root = Path(sys.argv[1]).resolve()
    # The proxy worker appends the app's directory (AzureWebJobsScriptRoot) to sys.path: installed
    # packages come first, so one that shadows an app module shadows it in Azure too.
    sys.path.append(str(root))
    print(json.dumps(asyncio.run(index(root))))


if __name__ == "__main__":
    main()
