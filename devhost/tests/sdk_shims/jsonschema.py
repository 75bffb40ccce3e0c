"""``jsonschema.validate`` for the SDK's test helpers, backed by ``jsonschema_rs`` (a dev dependency).

The SDK's tests validate each orchestrator reply against their own schema with
``jsonschema.validate(instance=..., schema=...)``; this is the only call they make.
"""

from typing import Any

import jsonschema_rs


def validate(instance: Any, schema: Any) -> None:
    jsonschema_rs.validate(schema, instance)
