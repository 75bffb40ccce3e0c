"""Which appearance values the portal applies (shared/portal_theme.py) and HERALD_PORTAL_THEME's checks.

Every value is tenant-controlled and reaches the customer's browser as a CSS property or an <img>
source: each is kept only in a form that can be nothing else, and anything else is left out.
"""

from __future__ import annotations

import pytest

from shared import portal_theme
from shared.errors import ConfigurationError
from shared.settings import HeraldSettings, get_settings

PNG = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.mark.parametrize(
    ("given", "kept"),
    [("#ABCDEF", "#abcdef"), ("abc", "#abc"), ("#11223344", "#11223344"), (" #0a7 ", "#0a7")],
)
def test_hex_colours_are_kept(given: str, kept: str) -> None:
    assert portal_theme.color(given) == kept


@pytest.mark.parametrize("given", ["red", "#12", "#1234567", "url(x)", "#fff;background:red", "", 123, None])
def test_anything_but_a_hex_colour_is_left_out(given: object) -> None:
    assert portal_theme.color(given) is None


def test_font_families_are_names_only() -> None:
    for kept in ("Inter, sans-serif", "'Open Sans', Arial", '"IBM Plex Sans"'):
        assert portal_theme.font_family(kept) == kept
    for refused in ("x; color: red", "url(https://evil.example/f)", "a{b}", "var(--x)", " , ", "", "a" * 121):
        assert portal_theme.font_family(refused) is None, refused


def test_logos_are_https_urls_or_base64_images() -> None:
    for kept in ("https://cdn.example.com/logo.svg", "https://cdn.example.com:8443/l.png?v=2", PNG):
        assert portal_theme.logo_url(kept) == kept
    refused = [
        "http://cdn.example.com/logo.png",
        "javascript:alert(1)",
        "https://user:secret@cdn.example.com/logo.png",
        "https://cdn.example.com/a logo.png",
        "https:///logo.png",
        "https://cdn.example.com:0/logo.png",
        "data:text/html;base64,PHNjcmlwdD4=",
        "data:image/svg+xml,<svg onload='alert(1)'/>",
        "data:image/png;base64," + "A" * portal_theme.MAX_DATA_URL_CHARS,
        "https://cdn.example.com/" + "a" * portal_theme.MAX_URL_CHARS,
        None,
    ]
    for value in refused:
        assert portal_theme.logo_url(value) is None, value


def test_display_names_are_short_plain_text() -> None:
    assert portal_theme.display_name("  Acme \t Cloud ") == "Acme Cloud"
    for refused in ("", "   ", "a" * 65, "Acme\x00", "Acme\u202e", 42):
        assert portal_theme.display_name(refused) is None, refused


def test_the_theme_reads_svix_settings_by_their_names() -> None:
    settings = {
        "displayName": "Acme",
        "customColor": "#111111",
        "colorPaletteLight": {"primary": "#222222"},
        "colorPaletteDark": {"primary": "#333333", "background": "#000000"},
        "customFontFamily": "Inter",
        "customLogoUrl": PNG,
        "retryPolicy": [1, 2],
    }
    assert portal_theme.theme_of(settings) == {
        "display_name": "Acme",
        # The palette's primary is Svix's newer name for the colour: it wins over customColor.
        "primary_color": "#222222",
        "primary_color_dark": "#333333",
        "font_family": "Inter",
        "logo_url": PNG,
    }
    assert portal_theme.theme_of({"customColor": "#111111", "colorPaletteLight": "nope"}) == {
        "primary_color": "#111111"
    }


def test_the_deployments_theme_must_be_one_the_portal_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "HERALD_PORTAL_THEME", '{"displayName": "Platform", "colorPaletteDark": {"primary": "#abc"}}'
    )
    assert HeraldSettings().portal_theme == {
        "displayName": "Platform",
        "colorPaletteDark": {"primary": "#abc"},
    }
    monkeypatch.setenv("HERALD_PORTAL_THEME", "")
    assert HeraldSettings().portal_theme == {}
    for value, reason in (
        ('{"customLogoUrl": "http://intranet/logo?token=s3cret"}', "does not apply customLogoUrl"),
        ('{"retryPolicy": [1]}', "does not apply retryPolicy"),
        ("{not json", "must be a JSON object"),
        ("[1, 2]", "valid dictionary"),
    ):
        monkeypatch.setenv("HERALD_PORTAL_THEME", value)
        get_settings.cache_clear()
        with pytest.raises(ConfigurationError) as refused:
            get_settings()
        assert "HERALD_PORTAL_THEME" in refused.value.detail and reason in refused.value.detail
        # The refusal names the setting and the key, never the value.
        assert "s3cret" not in refused.value.detail
    get_settings.cache_clear()
