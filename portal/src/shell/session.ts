/**
 * The portal session: the access token a link carries in its fragment, and what its claims allow.
 *
 * The link is `/api/portal/#token=<token>`: a fragment never reaches a server, a log or a
 * referrer. The token is kept in the tab's session storage (so a reload and client-side
 * navigation keep it) and removed from the address bar at once. Its claims are read unverified,
 * as hints for the UI only (which actions to show, which application to open); Herald checks
 * the token on every call.
 *
 * Development: a tenant token (from `make token`) carries no `app` claim, so the link names the
 * application itself: `/api/portal/#token=<tenant token>&app=<app id or uid>`. A portal token's
 * own `app` claim always wins over that parameter.
 */

export const CAPABILITIES = [
  "ViewBase",
  "ViewEndpointSecret",
  "ManageEndpointSecret",
  "CreateAttempts",
  "ManageEndpoint",
] as const;
export type Capability = (typeof CAPABILITIES)[number];

export interface Session {
  token: string;
  appId: string;
  capabilities: ReadonlySet<Capability>;
  readOnly: boolean;
  /** When the token expires (epoch milliseconds), or null when it does not say. */
  expiresAt: number | null;
}

export type SessionProblem = "missing" | "malformed" | "no-app" | "expired";
export type SessionResult = { ok: true; session: Session } | { ok: false; problem: SessionProblem };

interface Stored {
  token: string;
  app: string | null;
}

interface Claims {
  app?: unknown;
  cap?: unknown;
  ro?: unknown;
  exp?: unknown;
  scp?: unknown;
  roles?: unknown;
}

const STORAGE_KEY = "herald.portal.session";
// Where storage is refused (a sandboxed or third-party iframe), the session lives in the page only.
let inMemory: Stored | null = null;

function save(stored: Stored): void {
  inMemory = stored;
  try {
    window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(stored));
  } catch {
    // Storage refused: the page keeps working until it is reloaded.
  }
}

function load(): Stored | null {
  try {
    const raw = window.sessionStorage.getItem(STORAGE_KEY);
    if (raw) {
      const value: unknown = JSON.parse(raw);
      if (isStored(value)) {
        return value;
      }
    }
  } catch {
    // Unreadable or refused storage: fall back to what this page was given.
  }
  return inMemory;
}

function isStored(value: unknown): value is Stored {
  if (typeof value !== "object" || value === null) {
    return false;
  }
  const record = value as Record<string, unknown>;
  return typeof record.token === "string" && (record.app === null || typeof record.app === "string");
}

/** Forgets the session (the token was refused): a reload then asks for a new link. */
export function endSession(): void {
  inMemory = null;
  try {
    window.sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Nothing stored.
  }
}

function decodeClaims(token: string): Claims | null {
  const part = token.split(".")[1];
  if (!part) {
    return null;
  }
  try {
    const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (char) => char.charCodeAt(0));
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Claims) : null;
  } catch {
    return null;
  }
}

function scopesOf(claims: Claims): string[] {
  if (typeof claims.scp === "string") {
    return claims.scp.split(" ");
  }
  return Array.isArray(claims.roles) ? claims.roles.filter((role): role is string => typeof role === "string") : [];
}

function capabilitiesOf(claims: Claims): Set<Capability> {
  if (Array.isArray(claims.cap)) {
    const granted = new Set<Capability>(["ViewBase"]);
    for (const name of claims.cap) {
      if ((CAPABILITIES as readonly unknown[]).includes(name)) {
        granted.add(name as Capability);
      }
    }
    return granted;
  }
  // A tenant token (development): its write scope can do everything the portal offers.
  return scopesOf(claims).includes("herald.write") ? new Set(CAPABILITIES) : new Set(["ViewBase"]);
}

function sessionFromToken(token: string, appParameter: string | null, now = Date.now()): SessionResult {
  const claims = decodeClaims(token);
  if (claims === null) {
    return { ok: false, problem: "malformed" };
  }
  const appId = typeof claims.app === "string" && claims.app ? claims.app : appParameter;
  if (!appId) {
    return { ok: false, problem: "no-app" };
  }
  const expiresAt = typeof claims.exp === "number" ? claims.exp * 1000 : null;
  if (expiresAt !== null && expiresAt <= now) {
    return { ok: false, problem: "expired" };
  }
  const readOnly = claims.ro === true;
  const granted = capabilitiesOf(claims);
  const capabilities: ReadonlySet<Capability> = readOnly ? new Set<Capability>(["ViewBase"]) : granted;
  return { ok: true, session: { token, appId, capabilities, readOnly: readOnly || capabilities.size === 1, expiresAt } };
}

/** The session of this page: from the link's fragment when it has one, else from this tab's storage. */
export function startSession(): SessionResult {
  const fragment = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  const fromLink = fragment.get("token");
  let stored: Stored | null;
  if (fromLink) {
    stored = { token: fromLink, app: fragment.get("app") };
    save(stored);
    // Out of the address bar and the history at once: it would travel in a copied link or a screenshot.
    window.history.replaceState(window.history.state, "", window.location.pathname + window.location.search);
  } else {
    stored = load();
  }
  if (stored === null) {
    return { ok: false, problem: "missing" };
  }
  return sessionFromToken(stored.token, stored.app);
}
