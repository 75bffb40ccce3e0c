"""Install the Functions host's RPC messages (protobuf) into the active environment.

The worker runtime Azure runs for Python 3.13+ (``azure-functions-runtime``) has no proto code of
its own: the host side hands it the generated ``FunctionRpc_pb2`` module. Microsoft ships that
module only inside the ``azure-functions-runtime-v1`` wheel, under a top-level ``tests`` package,
so that wheel is never installed. This script downloads it (pinned) into a git-ignored cache and
copies its ``tests/protos`` into site-packages as ``_azure_functions_rpc`` (the name devhost and the
parity check import), without the gRPC stubs the host side does not need.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

WHEEL = "azure-functions-runtime-v1==1.2.0"
PACKAGE = "_azure_functions_rpc"
SOURCE_PREFIX = "tests/protos/"
CACHE = Path(__file__).resolve().parent.parent / ".cache" / "wheels"


def _wheel() -> Path:
    name, _, version = WHEEL.partition("==")
    pattern = f"{name.replace('-', '_')}-{version}-*.whl"
    found = sorted(CACHE.glob(pattern))
    if not found:
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603  # a fixed command: this interpreter's pip, a pinned wheel
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(CACHE), WHEEL],
            check=True,
        )
        found = sorted(CACHE.glob(pattern))
    if not found:
        raise SystemExit(f"pip downloaded no wheel matching {pattern}")
    return found[-1]


def _without_grpc(source: str) -> str:
    """The package's __init__ minus its import of the gRPC stubs (grpcio is not installed)."""
    tree = ast.parse(source)
    tree.body = [
        node
        for node in tree.body
        if not (isinstance(node, ast.ImportFrom) and (node.module or "").endswith("_grpc"))
    ]
    return ast.unparse(tree) + "\n"


def main() -> None:
    target = Path(sysconfig.get_paths()["purelib"]) / PACKAGE
    marker = target / "SOURCE"
    if marker.is_file() and marker.read_text().strip() == WHEEL:
        return
    shutil.rmtree(target, ignore_errors=True)
    with zipfile.ZipFile(_wheel()) as wheel:
        for member in wheel.namelist():
            if not member.startswith(SOURCE_PREFIX) or not member.endswith(".py"):
                continue
            relative = member[len(SOURCE_PREFIX) :]
            if relative.endswith("_grpc.py"):
                continue
            text = wheel.read(member).decode("utf-8")
            if relative == "__init__.py":
                text = _without_grpc(text)
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_text(text, encoding="utf-8")
    marker.write_text(WHEEL + "\n", encoding="utf-8")
    print(f"installed {PACKAGE} from {WHEEL}")


if __name__ == "__main__":
    main()
