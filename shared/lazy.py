"""Modules that load on first attribute access, to keep heavy imports off the cold-start path.

The Functions host imports `function_app.py` before it can answer anything; pydantic and the
Azure SDKs then load when the first request needs them. Callers keep static types with

    if TYPE_CHECKING:
        from shared import models
    else:
        models = lazy_module("shared.models")
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
