"""How the portal's files are served: types, caching, the CSP, refusals (over HTTP, no browser).

Cost: a few dozen requests to the portal's Herald, well under a second.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from bench.portal_size import JS_BUDGET_BYTES
from blueprints.portal import ROUTE, _security_headers
from shared import portal_files
from shared.settings import HeraldSettings
from tests.portal.conftest import Site
from tests.support.settings import ROOT

DIST = ROOT / "portal" / "dist"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors {}"
)


@pytest.fixture(scope="module")
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{base_url}/api/portal") as client:
        yield client


def _asset(suffix: str) -> str:
    """The page's own script or stylesheet, as index.html names it (the first such asset)."""
    html = (DIST / "index.html").read_text()
    found: list[str] = re.findall(rf'"/api/portal/(assets/[^"]+{re.escape(suffix)})"', html)
    return found[0]


def test_the_page_is_revalidated_on_every_use_and_carries_the_csp(http: httpx.Client, site: Site) -> None:
    for path in ("/", "", "/index.html"):
        answer = http.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"] == "text/html; charset=utf-8"
        assert answer.headers["cache-control"] == "no-cache"
        assert answer.headers["content-security-policy"] == CSP.format(site.origin)
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["x-content-type-options"] == "nosniff"
        # Origins are allowed to frame it here, which X-Frame-Options cannot express.
        assert "x-frame-options" not in answer.headers
        assert answer.content == (DIST / "index.html").read_bytes()


def test_by_default_no_page_may_frame_the_portal() -> None:
    headers = _security_headers(HeraldSettings().portal_frame_ancestors)
    assert headers["Content-Security-Policy"] == CSP.format("'none'")
    assert headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("page", ["index.html", "examples/svix-react/index.html"])
def test_the_built_page_has_no_inline_script_and_no_inline_handler(page: str) -> None:
    html = (DIST / page).read_text()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.DOTALL)
    assert scripts, "the page loads its script"
    for attributes, body in scripts:
        assert re.search(r'\ssrc="/api/portal/assets/[^"]+\.js"', attributes), attributes
        assert not body.strip()
    assert not re.search(r"\son[a-z]+\s*=", html, flags=re.IGNORECASE)
    assert "style=" not in html


def test_hashed_assets_are_cached_for_a_year_with_their_types(http: httpx.Client) -> None:
    for path, content_type in (
        (_asset(".js"), "text/javascript; charset=utf-8"),
        (_asset(".css"), "text/css; charset=utf-8"),
    ):
        answer = http.get(path, headers={"accept-encoding": "identity"})
        assert answer.status_code == 200
        assert answer.headers["content-type"] == content_type
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")
        assert answer.content == (DIST / path).read_bytes()


def test_text_files_are_sent_compressed_to_who_accepts_it(http: httpx.Client) -> None:
    path = _asset(".js")
    with http.stream("GET", path, headers={"accept-encoding": "gzip"}) as answer:
        raw = b"".join(answer.iter_raw())
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.headers["vary"] == "Accept-Encoding"
    assert len(raw) < (DIST / path).stat().st_size / 2
    assert gzip.decompress(raw) == (DIST / path).read_bytes()


def test_the_portal_javascript_is_within_its_budget() -> None:
    # As served: the gzipped bytes a browser receives (bench/portal_size.py prints the table).
    served = 0
    for path in portal_files.served_files():
        found = portal_files.resolve(path)
        if path.endswith(".js") and found is not None:
            served += len(found.gzipped or found.body)
    assert 0 < served <= JS_BUDGET_BYTES


def test_an_unchanged_file_costs_a_304(http: httpx.Client) -> None:
    first = http.get("/")
    etag = first.headers["etag"]
    again = http.get("/", headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert http.get("/", headers={"if-none-match": '"other"'}).status_code == 200


def test_pages_of_the_portal_router_get_the_page(http: httpx.Client) -> None:
    index = (DIST / "index.html").read_bytes()
    for path in (
        "/endpoints",
        "/endpoints/ep_2abc/edit",
        "/messages/msg_1?x=1",
        "/endpoints/",
        "/event-types/invoice.paid",
    ):
        answer = http.get(path)
        assert answer.status_code == 200, path
        assert answer.content == index


def test_unknown_files_are_404(http: httpx.Client) -> None:
    for path in ("/assets/index-nope.js", "/assets/nested", "/nope.txt", "/favicon.png", "/robots.txt"):
        answer = http.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")


@pytest.mark.parametrize(
    "path",
    [
        "/..%2f..%2ffunction_app.py",
        "/%2e%2e/%2e%2e/function_app.py",
        "/assets/%2e%2e/%2e%2e/%2e%2e/function_app.py",
        "/assets/..%5c..%5c..%5cfunction_app.py",
        "/.%2e/package.json",
        "/%2e%2e%2f%2e%2e%2fpackage.json",
        "/index.html%00.js",
        "/.vite/manifest.json",
        "/assets//index.html",
    ],
)
def test_no_path_leaves_the_folder(base_url: str, path: str) -> None:
    # http.client sends the path exactly as written (httpx would normalize dot segments).
    parts = urlsplit(base_url)
    connection = HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request("GET", f"/api/portal{path}")
        answer = connection.getresponse()
        body = answer.read()
    finally:
        connection.close()
    assert answer.status == 404, (path, answer.status)
    assert body == b"Not found."


def test_the_portal_route_shadows_no_api_route(base_url: str) -> None:
    import importlib

    import function_app

    templates = [
        function.get_trigger().route
        for function in importlib.reload(function_app).app.get_functions()
        if function.get_trigger().type == "httpTrigger"
    ]
    assert ROUTE in templates
    # Routing compares literal segments first: a template that starts with `v1` never competes
    # with one that starts with `portal`.
    assert all(template.split("/")[0] == "v1" for template in templates if template != ROUTE)
    with httpx.Client(base_url=f"{base_url}/api/v1") as api:
        assert api.get("/health").json() == {"status": "ok"}
        # /api/v1/portal is an API path: the v1 catch-all asks for a token, as for any.
        assert api.get("/portal").status_code == 401


def test_an_unbuilt_portal_answers_503_naming_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(portal_files, "DIST", tmp_path)
    with pytest.raises(portal_files.PortalNotBuiltError, match="make portal"):
        portal_files.resolve("")
    # Read again once built (the first answer is not kept).
    (tmp_path / "index.html").write_text("<!doctype html>")
    found = portal_files.resolve("endpoints")
    assert found is not None and found.body == b"<!doctype html>"


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("", "'none'"),
        ("'none'", "'none'"),
        ("https://app.example.com", "https://app.example.com"),
        (
            "https://app.example.com, https://*.example.org:8443 'self'",
            "https://app.example.com https://*.example.org:8443 'self'",
        ),
    ],
)
def test_frame_ancestors_setting_takes_origins(given: str, stored: str) -> None:
    assert HeraldSettings(portal_frame_ancestors=given).portal_frame_ancestors == stored


@pytest.mark.parametrize(
    "given",
    [
        "*",
        "https://a.example; script-src *",
        "'none' https://a.example",
        "https://a.example/path",
        "javascript:alert(1)",
        "https://",
        "'unsafe-inline'",
        "data:",
    ],
)
def test_frame_ancestors_setting_refuses_anything_else(given: str) -> None:
    with pytest.raises(ValueError, match="origins"):
        HeraldSettings(portal_frame_ancestors=given)
