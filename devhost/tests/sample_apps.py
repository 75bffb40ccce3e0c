"""The sample apps under apps/, copied per test module so each host starts from a clean folder."""

import json
import shutil
from pathlib import Path

APPS = Path(__file__).parent / "apps"


def copy_app(name: str, destination: Path, local_settings: dict[str, object] | None = None) -> Path:
    """A fresh copy of a sample app, with a local.settings.json when given.

    local.settings.json is written here rather than checked in: the repository ignores that file
    name everywhere, as it usually holds secrets.
    """
    app_dir = destination / name
    shutil.copytree(APPS / name, app_dir, ignore=shutil.ignore_patterns("__pycache__"))
    if local_settings is not None:
        (app_dir / "local.settings.json").write_text(json.dumps(local_settings), encoding="utf-8")
    return app_dir
