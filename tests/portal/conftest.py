"""The application portal in a real browser: Debian's Chromium, driven by Playwright, against Herald.

One Herald (devhost, the suite's settings plus the portal's own below) serves every portal
test, and one browser each test module; each test works in a tenant and a browser context of its
own, so no test sees another's data, storage or session. Data is made through the API with the
`svix` SDK, as a SaaS would; the browser then only does what a person does. Each main page's
screenshot is saved under .local/artifacts/portal/ (git-ignored).

Cost: Herald starts once (about 3 s), the browser once per module (under 1 s); each page a test
opens takes some 100-300 ms.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    Playwright,
    sync_playwright,
)
from svix.api import ApplicationIn, AppPortalAccessIn, AppPortalCapability, Svix, SvixOptions

from devhost.testing import RunningDevhost, free_port, run_devhost
from tests.support.receivers import Receiver, running_receiver
from tests.support.settings import ROOT
from tests.support.tokens import Minter

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # as root (CI, this machine) Chromium refuses to start sandboxed
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = ROOT / ".local" / "artifacts" / "portal"
# What a receiver's error page might hold: it must stay text in the portal.
MARKUP_RESPONSE = '<img src="x" onerror="window.__xss = \'response\'"><b>bold</b>'
# Requests per second and burst of each tenant on the portal's Herald: low enough that a test
# can exhaust a tenant's bucket in a moment (the 429 test), high enough for every other test.
RATE_PER_SECOND = 2
BURST = 40
# No retries: a failed attempt is its message's last (the pair ends `failed`), so no automatic
# retry lands mid-test, and a recovery finds failed messages to resend.
RETRY_SCHEDULE = ""


@dataclass(frozen=True)
class Site:
    """The SaaS's own web site: a page that embeds the portal, and a webhook receiver of its own."""

    origin: str
    # Another origin of the same server (localhost instead of 127.0.0.1): not allowed to frame.
    other_origin: str
    hook_path: str = "/hook"

    def embed_url(self, portal_url: str, *, origin: str | None = None) -> str:
        return f"{origin or self.origin}/embed?src={quote(portal_url, safe='')}"


class _SiteHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/embed":
            self.send_error(404)
            return
        src = parse_qs(parts.query)["src"][0]
        page = (
            "<!doctype html><html lang='en'><head><title>Acme settings</title></head><body>"
            "<h1>Acme: webhooks</h1>"
            f"<iframe title='Webhooks portal' src='{escape(src, quote=True)}' width='1000' height='700'>"
            "</iframe>"
            "</body></html>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = MARKUP_RESPONSE.encode()
        self.send_response(500)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="session")
def site() -> Iterator[Site]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SiteHandler)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(origin=f"http://127.0.0.1:{port}", other_origin=f"http://localhost:{port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="session")
def portal_host(herald_env: dict[str, str], site: Site) -> Iterator[RunningDevhost]:
    """Herald with the portal's settings; its log is kept, to show no token reaches it."""
    assert (ROOT / "portal" / "dist" / "index.html").is_file(), "the portal is not built: run `make portal`"
    env = {
        **herald_env,
        "HERALD_PORTAL_FRAME_ANCESTORS": site.origin,
        "HERALD_API_RATE_PER_SECOND": str(RATE_PER_SECOND),
        "HERALD_API_BURST": str(BURST),
        "HERALD_RETRY_SCHEDULE": RETRY_SCHEDULE,
    }
    with tempfile.TemporaryDirectory(prefix="herald-portal-") as state:
        env["DEVHOST_DURABLE_DB"] = str(Path(state) / "durable.sqlite3")
        with run_devhost(ROOT, port=free_port(), env=env, log_path=Path(state) / "devhost.log") as host:
            yield host


@pytest.fixture(scope="session")
def base_url(portal_host: RunningDevhost) -> str:
    return portal_host.base_url


# Per module, not per session: while Playwright's sync API is open, its event loop counts as
# running in this thread, and the suite's async tests after these could not run their own.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    assert shutil.which("chromium"), "chromium is missing: `make chromium` installs Debian's"
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@dataclass
class BrowserLog:
    """What the page reported: console errors (CSP violations among them) and uncaught errors."""

    errors: list[str]

    def csp_violations(self) -> list[str]:
        return [text for text in self.errors if "Content Security Policy" in text]


@pytest.fixture
def console() -> BrowserLog:
    return BrowserLog(errors=[])


@pytest.fixture
def context(browser: Browser, console: BrowserLog) -> Iterator[BrowserContext]:
    """A fresh browser profile (storage, cache) per test; CSP violations fail the test."""
    created = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US", timezone_id="UTC")
    created.set_default_timeout(10_000)
    yield created
    created.close()
    assert not console.csp_violations(), console.csp_violations()


@pytest.fixture
def page(context: BrowserContext, console: BrowserLog) -> Page:
    opened = context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console.errors.append(message.text)

    def on_error(error: Error) -> None:
        console.errors.append(f"uncaught: {error}")

    opened.on("console", on_console)
    opened.on("pageerror", on_error)
    return opened


@pytest.fixture
def svix(base_url: str, mint: Minter, tenant: str) -> Svix:
    """The SaaS's own API client, for the test's tenant."""
    return Svix(mint(tenant), SvixOptions(server_url=base_url))


@pytest.fixture
def app_id(svix: Svix) -> str:
    return svix.application.create(ApplicationIn(name="Acme Corp", uid=f"acme-{uuid.uuid4().hex[:8]}")).id


@dataclass(frozen=True)
class Links:
    """Portal links as a SaaS gets them for its customers: from app-portal-access, through the SDK."""

    base_url: str
    svix: Svix

    def url(
        self, app_id: str, *, read_only: bool = False, capabilities: list[AppPortalCapability] | None = None
    ) -> str:
        access = self.svix.authentication.app_portal_access(
            app_id, AppPortalAccessIn(read_only=read_only or None, capabilities=capabilities)
        )
        assert access.url == f"{self.base_url}/api/portal/#token={access.token}"
        return access.url

    @staticmethod
    def token(url: str) -> str:
        return url.split("#token=", 1)[1]


@pytest.fixture
def links(base_url: str, svix: Svix) -> Links:
    return Links(base_url, svix)


def screenshot(page: Page, name: str) -> None:
    """Saves what the page shows as a test artefact (.local/artifacts/portal/<name>.png)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running
