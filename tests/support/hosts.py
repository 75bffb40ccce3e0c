"""Herald served by devhost, a real separate process, as Core Tools would serve it."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devhost.testing import run_devhost
from tests.support.settings import ROOT


@contextmanager
def serving_herald(env: dict[str, str], *, port: int | None = None) -> Iterator[str]:
    """Herald on a devhost of its own; yields its base URL.

    Each host gets its own Durable state file (unless `env` names one): no two hosts share one,
    and no workflow outlives the test run into the next.
    """
    with tempfile.TemporaryDirectory(prefix="herald-durable-") as state:
        durable = {"DEVHOST_DURABLE_DB": str(Path(state) / "durable.sqlite3")}
        with run_devhost(ROOT, port=port, env={**durable, **env}) as host:
            yield host.base_url
