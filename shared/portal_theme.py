"""The application portal's appearance: which of Svix's environment settings it takes, and which values.

A SaaS themes its portal as it themes Svix's: with its environment settings (`POST
/api/v1/environment/import`, `settings`), under Svix's names:

- `displayName`: the name the portal's header shows (else "Webhooks");
- `customLogoUrl`: a logo, shown beside it;
- `colorPaletteLight.primary` (or the older `customColor`) and `colorPaletteDark.primary`: the
  primary colour in light and dark mode;
- `customFontFamily`: the font, by family name (a font the customer's system has: the portal's
  CSP loads fonts from its own origin only, so `customFontFamilyUrl` is not fetched).

HERALD_PORTAL_THEME gives the deployment's defaults under the same names; a tenant's settings win,
and a link's own options (svix-react's `primaryColor`, `darkMode`, `fontFamily`, `icon`) win over
both in the browser.

Every value is tenant-controlled and ends up in the customer's browser: as a CSS custom property
(set through the CSSOM, never markup) and an <img> source. So each is kept only in a form that can
be nothing else: a hex colour, a list of font names, an https:// URL or a base64 raster/SVG image
`data:` URL (an <img> runs no script, an SVG's neither), a short plain name. Anything else is
left out, never repaired. portal/src/theme/theme.ts applies the same rules to the link's options.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

HEX_COLOR = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
# Family names, quoted or not, comma-separated: no parenthesis, semicolon, slash or brace, so no
# url(), var() or second declaration can ride along.
FONT_FAMILY = re.compile(r"[A-Za-z0-9 _'\",.-]{1,120}")
DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/]+={0,2}")
MAX_URL_CHARS = 2048
# A data: logo travels in every portal configuration answer: a small image only.
MAX_DATA_URL_CHARS = 64 * 1024
MAX_DISPLAY_NAME_CHARS = 64
# The Svix settings the portal reads (for HERALD_PORTAL_THEME: the only keys it may hold).
APPEARANCE_SETTINGS = frozenset(
    {
        "displayName",
        "customLogoUrl",
        "customColor",
        "colorPaletteLight",
        "colorPaletteDark",
        "customFontFamily",
    }
)


def color(value: object) -> str | None:
    """A hex colour as `#rrggbb` (or `#rgb`, `#rgba`, `#rrggbbaa`); None for anything else."""
    if isinstance(value, str) and HEX_COLOR.fullmatch(value.strip()):
        return "#" + value.strip().removeprefix("#").lower()
    return None


def font_family(value: object) -> str | None:
    if isinstance(value, str) and FONT_FAMILY.fullmatch(value.strip()) and value.strip(" ,"):
        return value.strip()
    return None


def logo_url(value: object) -> str | None:
    """An https:// URL without credentials, or a base64 image `data:` URL; None for anything else."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if value.startswith("data:"):
        return value if len(value) <= MAX_DATA_URL_CHARS and DATA_IMAGE.fullmatch(value) else None
    if len(value) > MAX_URL_CHARS or any(char.isspace() or ord(char) < 0x20 for char in value):
        return None
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        return None
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password or not port_ok:
        return None
    return value


def display_name(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    name = " ".join(value.split())
    if not name or len(name) > MAX_DISPLAY_NAME_CHARS or not name.isprintable():
        return None
    return name


def _primary(palette: object) -> str | None:
    return color(palette.get("primary")) if isinstance(palette, Mapping) else None


def theme_of(settings: Mapping[str, Any]) -> dict[str, str]:
    """The theme Svix-named `settings` give, by PortalThemeOut's field names; unsafe values left out."""
    light = _primary(settings.get("colorPaletteLight")) or color(settings.get("customColor"))
    found = {
        "display_name": display_name(settings.get("displayName")),
        "logo_url": logo_url(settings.get("customLogoUrl")),
        "primary_color": light,
        "primary_color_dark": _primary(settings.get("colorPaletteDark")),
        "font_family": font_family(settings.get("customFontFamily")),
    }
    return {name: value for name, value in found.items() if value is not None}


def refused_settings(settings: Mapping[str, Any]) -> list[str]:
    """The keys of `settings` the portal would not apply (unknown, or a value it leaves out)."""
    refused = sorted(set(settings) - APPEARANCE_SETTINGS)
    for name in APPEARANCE_SETTINGS & set(settings):
        if not theme_of({name: settings[name]}):
            refused.append(name)
    return refused
