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
