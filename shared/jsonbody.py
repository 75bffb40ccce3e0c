"""JSON from tenants (API bodies, inbound queue messages), parsed as Herald accepts it.

Everything Herald stores from a tenant must stay readable and sendable afterwards, so two things
valid in JSON text are refused at the door:

- **nesting deeper than `MAX_DEPTH` levels**: Azure Cosmos DB refuses documents nested deeper
  than 128, pydantic's serializer (which writes the answers an idempotency key replays) gives up at
  255, Python's parser itself at a few thousand, and a stored document wraps a body in a few
  levels of its own. Svix's parser stops at 128.
- **lone UTF-16 surrogates** (`"\\ud800"` without its pair): they are no Unicode text, so they
  cannot be encoded as UTF-8 to be signed, sent or measured (I-JSON, RFC 7493, forbids them).
"""

from __future__ import annotations

import json
import re
from typing import Any

from shared.errors import BadRequestError

# Levels of objects and arrays, the outermost one included: `{"a": [1]}` is 2 deep. Not a setting:
# above about 125 what Herald stores would no longer fit Cosmos DB's limit.
MAX_DEPTH = 64

_SURROGATE = re.compile("[\ud800-\udfff]")
# The only way JSON text (UTF-8, which cannot encode surrogates) can spell one: an escape.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def loads(text: bytes | str) -> Any:
    """The JSON value of `text` (UTF-8 when bytes, as RFC 8259 requires between systems).

    :raises BadRequestError: (400, `invalid_json`) when `text` is not JSON, nests deeper than
        `MAX_DEPTH` levels or holds a lone surrogate.
    """
    try:
        decoded = text.decode("utf-8") if isinstance(text, bytes) else text
        value = json.loads(decoded)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequestError("The body is not valid JSON.", code="invalid_json") from None
    except RecursionError:
        # Nested beyond what the parser recurses into: far beyond MAX_DEPTH.
        raise _too_deep() from None
    # Cheap bounds first, on the text: a value has no more levels than the text has brackets
    # (brackets inside strings only add to the count), and no surrogate without an escape.
    if decoded.count("{") + decoded.count("[") > MAX_DEPTH:
        _check_depth(value)
    if _SURROGATE_ESCAPE.search(decoded) or (not decoded.isascii() and _SURROGATE.search(decoded)):
        _check_text(value)
    return value


def _check_depth(value: Any) -> None:
    """Level by level, not recursively: the value may be nested thousands of levels deep."""
    level = [value] if isinstance(value, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            raise _too_deep()
        below: list[Any] = []
        for container in level:
            items = container.values() if isinstance(container, dict) else container
            below.extend(item for item in items if isinstance(item, dict | list))
        level = below


def _check_text(value: Any) -> None:
    """Every string and key of `value` is Unicode text (called on values within `MAX_DEPTH`)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise BadRequestError(
                    "The body holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode text.",
                    code="invalid_json",
                )
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def _too_deep() -> BadRequestError:
    return BadRequestError(
        f"The body nests objects and arrays deeper than {MAX_DEPTH} levels.", code="invalid_json"
    )
