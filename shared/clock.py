"""Wall-clock time in one place, always timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_wire(moment: datetime) -> str:
    """ISO 8601 with a `Z`, the form stored in documents and sent to SDKs."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def from_wire(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
