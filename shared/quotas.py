"""Quotas: how much one tenant may put into each resource, each bound a `HERALD_MAX_*` setting.

Without them one tenant could make every message fan out to thousands of endpoints, or store
megabytes of headers and metadata that every delivery and every read then carries. A field over
its bound answers 422 with Svix's validation body, naming the field; a count over its bound (the
endpoints of an application) answers 409 `quota_exceeded`. Each is checked before anything is
written, so a refused request changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared.errors import ConflictError, ValidationFailedError
from shared.settings import HeraldSettings

Loc = list[str | int]


def _utf8(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _refuse(loc: Loc, msg: str) -> ValidationFailedError:
    return ValidationFailedError.single(loc, msg, "value_error.quota")


def check_metadata(metadata: Mapping[str, str] | None, settings: HeraldSettings, *, loc: Loc) -> None:
    """At most HERALD_MAX_METADATA_ENTRIES entries of HERALD_MAX_METADATA_BYTES in all (UTF-8)."""
    if not metadata:
        return
    if len(metadata) > settings.max_metadata_entries:
        raise _refuse(loc, f"metadata may have at most {settings.max_metadata_entries} entries")
    size = sum(_utf8(key) + _utf8(value) for key, value in metadata.items())
    if size > settings.max_metadata_bytes:
        raise _refuse(loc, f"metadata may hold at most {settings.max_metadata_bytes} bytes (keys and values)")


def check_headers(headers: Mapping[str, str] | None, settings: HeraldSettings, *, loc: Loc) -> None:
    """At most HERALD_MAX_HEADERS_PER_ENDPOINT headers of HERALD_MAX_HEADER_BYTES in all (UTF-8)."""
    if not headers:
        return
    if len(headers) > settings.max_headers_per_endpoint:
        raise _refuse(loc, f"an endpoint may have at most {settings.max_headers_per_endpoint} custom headers")
    size = sum(_utf8(name) + _utf8(value) for name, value in headers.items())
    if size > settings.max_header_bytes:
        raise _refuse(
            loc, f"custom headers may hold at most {settings.max_header_bytes} bytes (names and values)"
        )


def _check_list(values: Sequence[str] | None, bound: int, what: str, *, loc: Loc) -> None:
    if values is not None and len(values) > bound:
        raise _refuse(loc, f"an endpoint may list at most {bound} {what}")


def check_endpoint(fields: Mapping[str, Any], settings: HeraldSettings) -> None:
    """The bounds of an endpoint's stored fields (those present in `fields`, by their wire names)."""
    if "metadata" in fields:
        check_metadata(fields["metadata"], settings, loc=["body", "metadata"])
    if "headers" in fields:
        check_headers(fields["headers"], settings, loc=["body", "headers"])
    if "eventTypes" in fields:
        _check_list(
            fields["eventTypes"], settings.max_endpoint_event_types, "event types", loc=["body", "eventTypes"]
        )
    if "channels" in fields:
        _check_list(fields["channels"], settings.max_endpoint_channels, "channels", loc=["body", "channels"])


def check_room(count: int, bound: int, *, what: str) -> None:
    """409 when a scope already holds `bound` items: `what` says which, for the caller."""
    if count >= bound:
        raise ConflictError(f"{what} (at most {bound}); delete one first.", code="quota_exceeded")
