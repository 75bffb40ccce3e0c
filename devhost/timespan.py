"""The .NET ``TimeSpan`` text format that host.json options and timer schedules use.

``[d.]hh:mm[:ss[.fffffff]]`` (e.g. ``00:00:10``, ``1.02:00:00``) or a whole number of days, as
``TimeSpan.Parse`` reads them; negative spans are refused since no option devhost reads allows one.
"""

from __future__ import annotations

import re
from datetime import timedelta

_CLOCK = re.compile(
    r"(?:(?P<days>\d+)\.)?(?P<hours>\d{1,2}):(?P<minutes>\d{1,2})"
    r"(?::(?P<seconds>\d{1,2})(?:\.(?P<fraction>\d{1,7}))?)?"
)
_DAYS = re.compile(r"\d+")


def parse_timespan(text: str) -> timedelta:
    """The span ``text`` denotes; ValueError if it is not a TimeSpan."""
    stripped = text.strip()
    if _DAYS.fullmatch(stripped):
        return timedelta(days=int(stripped))
    match = _CLOCK.fullmatch(stripped)
    if match is None:
        raise ValueError(f"not a TimeSpan ([d.]hh:mm[:ss[.fff]]): {text!r}")
    hours, minutes = int(match["hours"]), int(match["minutes"])
    seconds = int(match["seconds"] or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ValueError(f"TimeSpan component out of range: {text!r}")
    fraction = match["fraction"] or "0"
    return timedelta(
        days=int(match["days"] or 0),
        hours=hours,
        minutes=minutes,
        seconds=seconds,
        # Seven digits are 100 ns ticks; microseconds keep the first six.
        microseconds=int(fraction.ljust(6, "0")[:6]),
    )


def format_timespan(span: timedelta) -> str:
    """``span`` as .NET's constant ("c") format writes it, e.g. ``6.00:00:00``, ``00:00:02.5000000``.

    This is how the Durable extension serializes TimeSpan values it sends, and the only shape the
    Python SDK's TimeSpan parser accepts (two-digit fields, seven fraction digits when present).
    """
    if span < timedelta(0):
        raise ValueError(f"negative TimeSpan: {span!r}")
    seconds, micros = divmod(span // timedelta(microseconds=1), 1_000_000)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    days, hour = divmod(hours, 24)
    text = f"{hour:02d}:{minute:02d}:{second:02d}"
    if days:
        text = f"{days}.{text}"
    if micros:
        text += f".{micros * 10:07d}"  # 100 ns ticks
    return text
