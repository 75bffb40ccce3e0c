"""The Durable SDK's own test suite as a reference for devhost's engine.

The ``azure-functions-durable`` source distribution on PyPI carries the SDK's tests: ContextBuilder
histories and scenario orchestrators. ``sdk_tests_root`` downloads it once, by exact version, into
the git-ignored ``.cache/`` at the repository root and unpacks only its ``tests/`` folder (the
library itself is the installed one, of the same version). The SDK's package is named ``tests``,
like Herald's, so its code only ever runs in subprocesses whose import path starts with that
folder: ``capture`` here, and the devhost running ``apps/durable_sdk_app``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

SDK_VERSION = "1.7.0"
SDIST = f"azure_functions_durable-{SDK_VERSION}.tar.gz"
REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO_ROOT / ".cache" / f"azure-functions-durable-{SDK_VERSION}"
SHIMS = Path(__file__).parent / "sdk_shims"
CAPTURE_SCRIPT = Path(__file__).parent / "sdk_capture.py"
_DOWNLOAD_TIMEOUT_SECONDS = 180


def sdk_tests_root() -> Path:
    """A folder holding the SDK's ``tests`` package (fetched and unpacked on first use).

    Both steps finish with an atomic rename, so a concurrent or interrupted run never sees half
    a download or half a folder.
    """
    root = CACHE_DIR / "root"
    if _complete(root):
        return root
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    sdist = CACHE_DIR / SDIST
    if not sdist.exists():
        with tempfile.TemporaryDirectory(prefix="download-", dir=CACHE_DIR) as download:
            _download(Path(download))
            os.replace(Path(download) / SDIST, sdist)
    staging = Path(tempfile.mkdtemp(prefix="unpack-", dir=CACHE_DIR))
    try:
        with tarfile.open(sdist) as archive:
            top = f"azure_functions_durable-{SDK_VERSION}/"
            members = [m for m in archive.getmembers() if m.name.startswith(f"{top}tests/")]
            for member in members:
                member.name = member.name.removeprefix(top)
            archive.extractall(staging, members=members, filter="data")
        try:
            staging.rename(root)
        except OSError:
            if not _complete(root):  # not merely another run having unpacked it first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def _complete(root: Path) -> bool:
    return (root / "tests" / "test_utils" / "ContextBuilder.py").exists()


def _download(destination: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-binary",
        ":all:",
        "--no-deps",
        f"azure-functions-durable=={SDK_VERSION}",
        "-d",
        str(destination),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=_DOWNLOAD_TIMEOUT_SECONDS)
    if done.returncode != 0 or not (destination / SDIST).exists():
        raise RuntimeError(
            f"could not fetch the azure-functions-durable {SDK_VERSION} sdist from the package "
            f"registry (pip exited {done.returncode}):\n{done.stderr[-2000:]}"
        )


def import_path(root: Path) -> str:
    """PYTHONPATH for SDK code: its ``tests`` package first, then the stand-ins it needs."""
    return os.pathsep.join([str(root), str(SHIMS)])


def capture(root: Path, test_ids: list[str]) -> dict[str, Any]:
    """Run these SDK tests (``"<module>:<test>"`` under tests/orchestrator) and report their calls.

    See sdk_capture.py for the report's shape. Fails if any of the SDK's tests fails against the
    installed SDK: then its expectations are no reference.
    """
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["PYTHONPATH"] = import_path(root)
    # -P: the script's own folder (devhost/tests) stays off the path; the working directory is the
    # SDK's root, which holds nothing but its tests package.
    done = subprocess.run(
        [sys.executable, "-P", str(CAPTURE_SCRIPT), json.dumps(test_ids)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"running the SDK's tests failed:\n{done.stderr[-4000:]}")
    report: dict[str, Any] = json.loads(done.stdout)
    failed = {test_id: entry["failure"] for test_id, entry in report.items() if entry["failure"]}
    if failed:
        raise AssertionError(f"SDK tests failed against the installed SDK: {failed}")
    return report
