/**
 * The portal's theme: primary colour, logo, name, font, light or dark, applied at run time.
 *
 * Three sources, each over the one before, key by key:
 * 1. the portal's own defaults (styles.css, theme.css);
 * 2. the tenant's appearance settings over the deployment's HERALD_PORTAL_THEME, which Herald
 *    serves at GET /api/v1/app/{app}/portal-config (see shared/portal_theme.py);
 * 3. the link's own options, as svix-react's <AppPortal> appends them to the URL's query
 *    (`primaryColor`, `darkMode` = true | auto, `fontFamily`, `icon`), or Svix's portal names them
 *    (`primaryColorLight`, `primaryColorDark`); also read from the fragment, beside the token.
 *
 * Everything here is someone else's input: a value is kept only in a form that can be nothing
 * else (the same rules as shared/portal_theme.py), and it is applied through the CSSOM (custom
 * properties, `font-family`) and an <img> source, never as markup. The CSP allows both.
 */
import "./theme.css";

export type DarkMode = "light" | "dark" | "auto";

export interface Theme {
  displayName?: string;
  logoUrl?: string;
  primaryColor?: string;
  primaryColorDark?: string;
  fontFamily?: string;
  darkMode?: DarkMode;
}

const HEX_COLOR = /^#?([0-9a-f]{3}|[0-9a-f]{4}|[0-9a-f]{6}|[0-9a-f]{8})$/i;
// Family names only: no parenthesis, semicolon or brace, so no url(), var() or second declaration.
const FONT_FAMILY = /^[A-Za-z0-9 _'",.-]{1,120}$/;
const DATA_IMAGE = /^data:image\/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/]+={0,2}$/;
const MAX_URL_CHARS = 2048;
const MAX_DATA_URL_CHARS = 64 * 1024;
const MAX_DISPLAY_NAME_CHARS = 64;
const OPTIONS_KEY = "herald.portal.theme-options";
const SERVED_KEY = "herald.portal.theme-served";

function safeColor(value: unknown): string | undefined {
  if (typeof value !== "string" || !HEX_COLOR.test(value.trim())) {
    return undefined;
  }
  return `#${value.trim().replace(/^#/, "").toLowerCase()}`;
}

function safeFontFamily(value: unknown): string | undefined {
  if (typeof value !== "string") {
    return undefined;
  }
  const family = value.trim();
  return FONT_FAMILY.test(family) && family.replace(/[ ,]/g, "") ? family : undefined;
}

function safeLogoUrl(value: unknown): string | undefined {
  if (typeof value !== "string") {
    return undefined;
  }
  const url = value.trim();
  if (url.startsWith("data:")) {
    return url.length <= MAX_DATA_URL_CHARS && DATA_IMAGE.test(url) ? url : undefined;
  }
  if (url.length > MAX_URL_CHARS || /[\s\u0000-\u001f]/.test(url)) {
    return undefined;
  }
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" && parsed.hostname && !parsed.username && !parsed.password ? url : undefined;
  } catch {
    return undefined;
  }
}

function safeDisplayName(value: unknown): string | undefined {
  if (typeof value !== "string") {
    return undefined;
  }
  const name = value.split(/\s+/).filter(Boolean).join(" ");
  return name && name.length <= MAX_DISPLAY_NAME_CHARS && !/[\u0000-\u001f\u007f]/.test(name) ? name : undefined;
}

function safeDarkMode(value: unknown): DarkMode | undefined {
  if (value === "true" || value === "dark") {
    return "dark";
  }
  if (value === "false" || value === "light") {
    return "light";
  }
  return value === "auto" ? "auto" : undefined;
}

/** Only the keys whose values are safe; anything else is dropped, never repaired. */
function cleanTheme(raw: Record<string, unknown>): Theme {
  const theme: Theme = {
    displayName: safeDisplayName(raw.displayName),
    logoUrl: safeLogoUrl(raw.logoUrl),
    primaryColor: safeColor(raw.primaryColor),
    primaryColorDark: safeColor(raw.primaryColorDark),
    fontFamily: safeFontFamily(raw.fontFamily),
    darkMode: safeDarkMode(raw.darkMode),
  };
  return Object.fromEntries(Object.entries(theme).filter(([, value]) => value !== undefined)) as Theme;
}

/** The link's options, by svix-react's and Svix's portal's names. */
function linkOptions(query: URLSearchParams, fragment: URLSearchParams): Theme {
  const read = (name: string) => fragment.get(name) ?? query.get(name) ?? undefined;
  return cleanTheme({
    primaryColor: read("primaryColorLight") ?? read("primaryColor"),
    primaryColorDark: read("primaryColorDark"),
    darkMode: read("darkMode"),
    fontFamily: read("fontFamily"),
    logoUrl: read("icon"),
  });
}

function readStored(key: string): Theme {
  try {
    const raw = window.sessionStorage.getItem(key);
    const value: unknown = raw ? JSON.parse(raw) : null;
    return typeof value === "object" && value !== null ? cleanTheme(value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function store(key: string, theme: Theme): void {
  try {
    window.sessionStorage.setItem(key, JSON.stringify(theme));
  } catch {
    // Storage refused (a sandboxed iframe): the theme holds until the page is reloaded.
  }
}

// --- colours -------------------------------------------------------------------------------------

function channels(hex: string): [number, number, number] {
  let digits = hex.slice(1);
  if (digits.length <= 4) {
    digits = [...digits].map((digit) => digit + digit).join("");
  }
  return [0, 2, 4].map((at) => Number.parseInt(digits.slice(at, at + 2), 16)) as [number, number, number];
}

function luminance([r, g, b]: [number, number, number]): number {
  const linear = (value: number) => {
    const c = value / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
}

function contrast(a: [number, number, number], b: [number, number, number]): number {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}

const toHex = (rgb: [number, number, number]) =>
  `#${rgb.map((value) => Math.round(value).toString(16).padStart(2, "0")).join("")}`;

/**
 * The colour as given when text of it is readable on `paper` (WCAG AA, 4.5:1), else the nearest
 * mix of it towards black (light paper) or white (dark paper) that is: links and outlines use it.
 */
function readableAccent(color: string, paper: string): string {
  const base = channels(color);
  const background = channels(paper);
  const target: [number, number, number] = luminance(background) > 0.5 ? [0, 0, 0] : [255, 255, 255];
  for (let step = 0; step <= 20; step += 1) {
    const mix = step / 20;
    const candidate = base.map((value, i) => value + (target[i]! - value) * mix) as [number, number, number];
    if (contrast(candidate, background) >= 4.5) {
      return toHex(candidate);
    }
  }
  return toHex(target);
}

/** Black or white, whichever reads better on the accent (button text). */
function inkOn(color: string): string {
  const rgb = channels(color);
  return contrast(rgb, [255, 255, 255]) >= contrast(rgb, [0, 0, 0]) ? "#ffffff" : "#000000";
}

// --- applying it ---------------------------------------------------------------------------------

const PAPER = { light: "#ffffff", dark: "#0d1117" } as const;
let linkTheme: Theme = {};
let servedTheme: Theme = {};
// The theme in force (the served one under the link's options): one object per change, so React
// can tell a change from a re-read.
let inForce: Theme = {};
let media: MediaQueryList | null = null;
const listeners = new Set<() => void>();

export function currentTheme(): Theme {
  return inForce;
}

function resolvedMode(mode: DarkMode | undefined): "light" | "dark" {
  if (mode === "auto") {
    return media?.matches ? "dark" : "light";
  }
  return mode ?? "light";
}

function apply(): void {
  const theme = { ...servedTheme, ...linkTheme };
  inForce = theme;
  const root = document.documentElement;
  const mode = resolvedMode(theme.darkMode);
  root.dataset.theme = mode;
  const primary = mode === "dark" ? (theme.primaryColorDark ?? theme.primaryColor) : theme.primaryColor;
  if (primary) {
    const accent = readableAccent(primary, PAPER[mode]);
    root.style.setProperty("--accent", accent);
    root.style.setProperty("--accent-ink", inkOn(accent));
    root.style.setProperty("--focus", accent);
  } else {
    for (const name of ["--accent", "--accent-ink", "--focus"]) {
      root.style.removeProperty(name);
    }
  }
  if (theme.fontFamily) {
    root.style.setProperty("font-family", `${theme.fontFamily}, system-ui, sans-serif`);
  } else {
    root.style.removeProperty("font-family");
  }
  for (const listener of listeners) {
    listener();
  }
}

/**
 * Reads the link's options (a new link: its own, stored for this tab; a reload or an in-portal
 * address: the stored ones) and applies them with the last served theme, before the first render.
 * Runs before the session takes the token out of the address bar.
 */
export function startTheme(): void {
  const fragment = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  if (fragment.get("token")) {
    // A new link: its own options, and no theme served for whatever link this tab had before.
    linkTheme = linkOptions(new URLSearchParams(window.location.search), fragment);
    store(OPTIONS_KEY, linkTheme);
    store(SERVED_KEY, {});
  } else {
    linkTheme = readStored(OPTIONS_KEY);
  }
  servedTheme = readStored(SERVED_KEY);
  media = window.matchMedia?.("(prefers-color-scheme: dark)") ?? null;
  media?.addEventListener("change", apply);
  apply();
}

/** Applies what Herald served (and keeps it for this tab's reloads, so they do not flash). */
export function applyServedTheme(raw: Record<string, unknown>): void {
  servedTheme = cleanTheme(raw);
  store(SERVED_KEY, servedTheme);
  apply();
}

export function subscribeTheme(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
