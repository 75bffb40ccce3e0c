"""The portal themed for embedding, without a rebuild: the tenant's appearance settings (Svix's
environment settings) give its name, logo, primary colour and font; a link's own options, as
svix-react's <AppPortal> appends them to the URL, choose dark mode and override the colour; unsafe
values are ignored; a colour too light to read is darkened until it is.

Cost: about 2 s (three page loads).
"""

from __future__ import annotations

from urllib.parse import urlencode

from playwright.sync_api import Page, expect
from svix.api import EnvironmentIn, Svix

from tests.portal.conftest import Links, screenshot

# A 1x1 PNG: a logo the CSP allows (img-src data:) without a request leaving the machine.
LOGO = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
APPEARANCE = {
    "displayName": "Acme Cloud",
    "customLogoUrl": LOGO,
    # Orange on white reads at 2.9:1: the portal must darken it for text.
    "colorPaletteLight": {"primary": "#ff8800"},
    "customFontFamily": "Georgia, serif",
}


def _with_options(url: str, **options: str) -> str:
    """The link as svix-react's <AppPortal> makes it: its options in the query, before the fragment."""
    base, fragment = url.split("#", 1)
    return f"{base}?{urlencode(options)}#{fragment}"


def _luminance(hex_color: str) -> float:
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


def _contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _style(page: Page, expression: str) -> str:
    return str(page.evaluate(f"getComputedStyle(document.documentElement).{expression}")).strip()


def test_the_tenants_appearance_and_the_links_options_theme_the_portal(
    page: Page, links: Links, app_id: str, svix: Svix
) -> None:
    svix.environment.import_(EnvironmentIn(settings=APPEARANCE))

    page.goto(links.url(app_id))
    header = page.get_by_role("banner")
    expect(header).to_contain_text("Acme Cloud")
    expect(header.get_by_test_id("brand-logo")).to_have_attribute("src", LOGO)
    expect(page).to_have_title("Acme Cloud: webhooks")
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    accent = _style(page, "getPropertyValue('--accent')")
    assert accent != "#ff8800" and _contrast(accent, "#ffffff") >= 4.5, accent
    assert _style(page, "fontFamily").startswith("Georgia, serif")

    page.goto(_with_options(links.url(app_id), darkMode="true", primaryColor="#7c3aed"))
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(header).to_contain_text("Acme Cloud")
    dark_accent = _style(page, "getPropertyValue('--accent')")
    assert _contrast(dark_accent, "#0d1117") >= 4.5, dark_accent
    assert _style(page, "backgroundColor") == "rgb(13, 17, 23)"
    # The options hold for the whole visit: the portal's own navigation keeps them.
    page.get_by_role("link", name="Messages").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert _style(page, "getPropertyValue('--accent')") == dark_accent
    screenshot(page, "themed-dark")


def test_unsafe_theme_values_are_ignored(page: Page, links: Links, app_id: str, svix: Svix) -> None:
    svix.environment.import_(
        EnvironmentIn(
            settings={
                "displayName": "Acme",
                "customLogoUrl": "javascript:alert(1)",
                "customColor": "red;background:url(https://evil.example/x)",
                "customFontFamily": "x; color: red",
            }
        )
    )
    page.goto(
        _with_options(
            links.url(app_id),
            primaryColor="expression(alert(1))",
            icon="http://insecure.example/logo.png",
            fontFamily="url(https://evil.example/font)",
            darkMode="sometimes",
        )
    )
    header = page.get_by_role("banner")
    expect(header).to_contain_text("Acme")
    expect(header.get_by_role("img")).to_have_count(0)
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    # The portal's own colour and font: nothing of the values above reached the page's style.
    assert _style(page, "getPropertyValue('--accent')") == "#1f4e79"
    assert _style(page, "fontFamily").startswith("system-ui")
