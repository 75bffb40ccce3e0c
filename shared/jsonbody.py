"""JSON from tenants (API bodies, inbound queue messages), parsed as Herald accepts it.

Everything Herald stores from a tenant must stay readable and sendable afterwards, so two things
valid in JSON text are refused at the door:

- **nesting deeper than `MAX_DEPTH` levels**: pydantic's serializer gives up at 255 levels (every
  later read of a stored message would fail), Azure Cosmos DB refuses documents nested deeper than
  128, Python's parser itself at a few thousand, and a stored document wraps a body in a few levels
  of its own. Svix's parser stops at 128.
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


def loads(text: bytes | str) -> Any:
    """The JSON value of `text`.

    :raises BadRequestError: (400, `invalid_json`) when `text` is not JSON, nests deeper than
        `MAX_DEPTH` levels or holds a lone surrogate.
    """
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequestError("The body is not valid JSON.", code="invalid_json") from None
    except RecursionError:
        # Nested beyond what the parser recurses into: far beyond MAX_DEPTH.
        raise _too_deep() from None
    check(value)
    return value


def check(value: Any) -> None:
    """Refuses a parsed value nested deeper than `MAX_DEPTH` or holding a lone surrogate.

    Iterative, not recursive: the value may be nested thousands of levels deep.

    :raises BadRequestError: (400, `invalid_json`).
    """
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            _check_text(item)
            continue
        if isinstance(item, dict):
            children: Any = item.values()
            for key in item:
                _check_text(key)
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth + 1 > MAX_DEPTH:
            raise _too_deep()
        pending.extend((child, depth + 1) for child in children if isinstance(child, str | dict | list))


def _check_text(text: str) -> None:
    if not text.isascii() and _SURROGATE.search(text):
        raise BadRequestError(
            "The body holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode text.",
            code="invalid_json",
        )


def _too_deep() -> BadRequestError:
    return BadRequestError(
        f"The body nests objects and arrays deeper than {MAX_DEPTH} levels.", code="invalid_json"
    )
