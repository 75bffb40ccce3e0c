"""The application portal: /api/portal/ (the page) and /api/portal/assets/* (its scripts and styles).

The page a SaaS hands its customers (`POST /api/v1/auth/app-portal-access/{app_id}` gives its
URL) is served by the Function App itself, from the same origin as the API it calls, so it needs
no CORS. `portal/{*path}` starts with a literal segment of its own: it never competes with a
`v1/...` route (routing compares segment by segment, and `portal` is not `v1`), and the
`v1/{*rest}` catch-all never sees a portal path. No token is needed for the files: the page
holds none; its token travels in the URL's fragment, which no server sees.

Every answer carries the portal's CSP (scripts, styles and calls to its own origin only; no
inline script, no eval) with `frame-ancestors` from `HERALD_PORTAL_FRAME_ANCESTORS` (`'none'`
by default), and sends no referrer. Which file a path names, and its caching: shared/portal_files.
"""

from functools import cache
from typing import TYPE_CHECKING

import azure.functions as func

from shared.errors import ConfigurationError

if TYPE_CHECKING:
    from shared.portal_files import PortalFile

bp = func.Blueprint()

ROUTE = "portal/{*path}"


@cache
def _security_headers(frame_ancestors: str) -> dict[str, str]:
    headers = {
        # Images from any https:// origin too: the tenant's logo (shared/portal_theme.py). An
        # <img> runs no script, and the page sends no referrer with it.
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
            "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
            f"frame-ancestors {frame_ancestors}"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    }
    if frame_ancestors == "'none'":
        # For browsers that predate frame-ancestors; it cannot name origins, so only for 'none'.
        headers["X-Frame-Options"] = "DENY"
    return headers


def _text(status: int, text: str, headers: dict[str, str]) -> func.HttpResponse:
    return func.HttpResponse(
        text,
        status_code=status,
        headers={**headers, "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"},
    )


def _file(req: func.HttpRequest, found: "PortalFile", headers: dict[str, str]) -> func.HttpResponse:
    headers = {**headers, "Cache-Control": found.cache_control, "ETag": found.etag}
    if found.gzipped is not None:
        headers["Vary"] = "Accept-Encoding"
    # A proxy that recompresses may weaken the tag (W/"..."): the bytes are still these.
    presented = {
        tag.strip().removeprefix("W/") for tag in (req.headers.get("if-none-match") or "").split(",")
    }
    if found.etag in presented:
        return func.HttpResponse(status_code=304, headers=headers)
    headers["Content-Type"] = found.content_type
    accepted = (req.headers.get("accept-encoding") or "").lower()
    if found.gzipped is not None and "gzip" in accepted:
        return func.HttpResponse(
            found.gzipped, status_code=200, headers={**headers, "Content-Encoding": "gzip"}
        )
    return func.HttpResponse(found.body, status_code=200, headers=headers)


@bp.function_name("portal")
@bp.route(route=ROUTE, methods=["GET", "HEAD"], auth_level=func.AuthLevel.ANONYMOUS)
def portal(req: func.HttpRequest) -> func.HttpResponse:
    # These load with the first portal request, not with the app (pydantic among them).
    from shared.portal_files import PortalNotBuiltError, resolve
    from shared.settings import get_settings

    try:
        headers = _security_headers(get_settings().portal_frame_ancestors)
    except ConfigurationError as exc:
        return _text(500, exc.detail, _security_headers("'none'"))
    try:
        found = resolve(req.route_params.get("path"))
    except PortalNotBuiltError as exc:
        return _text(503, str(exc), headers)
    if found is None:
        return _text(404, "Not found.", headers)
    return _file(req, found, headers)
