"""App-setting binding expressions: ``%NAME%`` inside a binding property names an app setting.

The Functions host resolves them when it indexes the app (e.g. ``queue_name="%INBOX_QUEUE%"``,
``schedule="%NIGHTLY%"``); app settings are environment variables, local.settings.json included.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from devhost.errors import StartupError

_EXPRESSION = re.compile(r"%([^%]+)%")


def resolve_setting_expressions(text: str, environ: Mapping[str, str], *, where: str) -> str:
    """``text`` with each ``%NAME%`` replaced by that setting; StartupError naming ``where`` if unset."""

    def setting(match: re.Match[str]) -> str:
        name = match.group(1)
        value = environ.get(name)
        if value is None:
            raise StartupError(f"{where}: app setting '{name}' (from '%{name}%') is not set")
        return value

    return _EXPRESSION.sub(setting, text)
