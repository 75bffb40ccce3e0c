"""Custom headers: which headers an endpoint may add to its webhook requests.

A header name is an RFC 9110 token; a value is visible ASCII, spaces, tabs and non-ASCII text
(aiohttp writes it as UTF-8, so it reaches the wire as obs-text), never a control character: a CR
or LF would end the header early, and what other controls do depends on the receiver's parser.
The names Herald sets itself, the framing and hop-by-hop headers and the trace context are
refused, compared on the name as a receiver or proxy would read it (stripped, lower-cased), so
`Transfer-Encoding<TAB>` is refused as `transfer-encoding` is. The same rules apply on save (a 422)
and on every send (a failed attempt, never a request), so nothing stored before they existed can
smuggle a header either.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

# Herald's own headers (the body's type, the client, the trace context it propagates), the
# framing and hop-by-hop headers that decide where a message ends or what a proxy does with it.
FORBIDDEN = frozenset(
    {
        "content-type",
        "content-length",
        "content-encoding",
        "transfer-encoding",
        "host",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "http2-settings",
        "expect",
        "user-agent",
        "traceparent",
        "tracestate",
        "baggage",
        # HTTP message signatures (RFC 9421): a receiver may read them as Herald's signature.
        "signature",
        "signature-input",
    }
)
# Standard Webhooks' and Svix's headers (id, timestamp, signature), and every proxy-* header.
FORBIDDEN_PREFIXES = ("webhook-", "svix-", "proxy-")
# RFC 9110 token: 1*tchar.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class InvalidHeaderError(ValueError):
    """One custom header may not be sent; the message says why (never the value)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(reason)
        self.name = name


def normalized(name: str) -> str:
    return name.strip(" \t\r\n").lower()


def _value_ok(value: str) -> bool:
    # Controls (C0, DEL, C1) and lone surrogates are refused; HTAB is the one control allowed.
    return all(ch == "\t" or unicodedata.category(ch) not in ("Cc", "Cs") for ch in value)


def check_header(name: str, value: str) -> None:
    """Raises InvalidHeaderError if `name: value` may not be sent."""
    lowered = normalized(name)
    if lowered in FORBIDDEN or lowered.startswith(FORBIDDEN_PREFIXES):
        raise InvalidHeaderError(
            name, f"header '{lowered}' is set by Herald or the transport and cannot be set"
        )
    if not _TOKEN.fullmatch(name):
        raise InvalidHeaderError(
            name, "invalid header name: letters, digits and !#$%&'*+-.^_`|~ only (an RFC 9110 token)"
        )
    if not _value_ok(value):
        raise InvalidHeaderError(
            name, "invalid header value: control characters (other than tab) are not allowed"
        )


def check_headers(headers: Mapping[str, str]) -> None:
    """Raises InvalidHeaderError for the first header that may not be sent, or a repeated name."""
    seen: set[str] = set()
    for name, value in headers.items():
        check_header(name, value)
        if name.lower() in seen:
            raise InvalidHeaderError(name, f"header '{name.lower()}' is given more than once")
        seen.add(name.lower())
