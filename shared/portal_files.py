"""The application portal's built files (`make portal`: Vite's output in portal/dist/), as served.

Which file a portal path names, and how it may be cached:
- `assets/*` are Vite's content-hashed files: a new build gives them new names, so browsers
  and CDNs may keep them for a year without asking again (`immutable`);
- `index.html` and the other files at the top (the icon) keep their names across builds: they
  are revalidated on every use (`no-cache`, with an ETag, so an unchanged one costs a 304);
- any other path that does not end in a served file type is a page of the portal's own router
  (`endpoints/ep_...`, `event-types/invoice.paid`: event type names have dots): it gets
  index.html, whose script renders that page;
- anything else is a 404: unknown files, and any segment that is empty, hidden (`.`, `..`,
  `.env`) or not plain letters, digits, `-`, `_` and `.` (an encoded slash or backslash, NUL),
  so no path can leave the folder.

The folder's listing is read once per process and each file on its first request (a rebuild
shows after a restart); nothing here runs on any path of the API.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath

DIST = Path(__file__).resolve().parent.parent / "portal" / "dist"
INDEX = "index.html"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Served types only: a file of any other kind in the folder is not served.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}
# Worth compressing: text, above a size where gzip's framing outweighs its gain.
COMPRESSIBLE = frozenset({".html", ".js", ".css", ".svg", ".json", ".txt"})
MIN_GZIP_BYTES = 1024
_SEGMENT = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]*")


class PortalNotBuiltError(Exception):
    """portal/dist/ has no index.html: `make portal` has not run (or the deployment left it out)."""


@dataclass(frozen=True)
class PortalFile:
    body: bytes
    content_type: str
    cache_control: str
    etag: str
    # The body gzip-compressed, when that is worth it.
    gzipped: bytes | None


def resolve(path: str | None) -> PortalFile | None:
    """The file a portal path (after `/api/portal/`) names, or None for a 404.

    :raises PortalNotBuiltError: the portal was not built.
    """
    files = _listing(DIST)
    if INDEX not in files:
        # Read again on the next request: the build may be under way.
        _listing.cache_clear()
        raise PortalNotBuiltError("The portal is not built: run `make portal`.")
    segments = (path or "").split("/")
    if segments[-1] == "":
        segments.pop()  # one trailing slash, as the host's routing ignores it
    if not segments:
        return _read(DIST, INDEX)
    if not all(_SEGMENT.fullmatch(segment) for segment in segments):
        return None
    relative = "/".join(segments)
    if relative in files:
        return _read(DIST, relative)
    if segments[0] != "assets" and PurePosixPath(segments[-1]).suffix not in CONTENT_TYPES:
        return _read(DIST, INDEX)
    return None


def served_files() -> frozenset[str]:
    """Every file the portal serves, by its path under /api/portal/."""
    return _listing(DIST)


@cache
def _listing(root: Path) -> frozenset[str]:
    """Every servable file under `root`, by its path relative to it (read once per process)."""
    if not root.is_dir():
        return frozenset()
    return frozenset(
        found.relative_to(root).as_posix()
        for found in root.rglob("*")
        if found.is_file() and found.suffix in CONTENT_TYPES
    )


@cache
def _read(root: Path, relative: str) -> PortalFile:
    import gzip  # with the first portal file, not with the app: the API never needs it

    path = root / relative
    body = path.read_bytes()
    hashed = relative.startswith("assets/")
    gzipped = None
    if path.suffix in COMPRESSIBLE and len(body) >= MIN_GZIP_BYTES:
        # mtime=0: the same file compresses to the same bytes on every instance.
        gzipped = gzip.compress(body, compresslevel=9, mtime=0)
    return PortalFile(
        body=body,
        content_type=CONTENT_TYPES[path.suffix],
        cache_control=IMMUTABLE if hashed else REVALIDATE,
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        gzipped=gzipped,
    )
