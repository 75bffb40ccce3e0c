/**
 * The API client: the official `svix` SDK, pointed at the Herald that served this page.
 *
 * The server URL is always the page's own origin: without one the SDK would guess a Svix Cloud
 * region from the token. Every request goes through `portalFetch`, which
 * - waits out a 429 as `Retry-After` says (showing so), then tries again, a few times at most;
 * - ends the session on a 401 (the token expired or was revoked), so every page says so at once.
 * POSTs are safe to retry: the SDK gives each one an idempotency key, which Herald honours.
 */
import { Svix } from "svix";

import { endSession, type Session } from "./session";
import { setSessionEnded, setThrottled } from "./status";

// Beyond this many waits in a row the 429 reaches the page, which says to try again later.
const MAX_THROTTLED_RETRIES = 4;
const DEFAULT_RETRY_AFTER_SECONDS = 1;
const MAX_RETRY_AFTER_SECONDS = 60;
const REQUEST_TIMEOUT_MS = 20_000;

function retryAfterSeconds(response: Response): number {
  const header = response.headers.get("retry-after");
  const seconds = header === null ? Number.NaN : Number(header);
  if (!Number.isFinite(seconds) || seconds < 0) {
    return DEFAULT_RETRY_AFTER_SECONDS;
  }
  return Math.min(Math.max(seconds, 0.5), MAX_RETRY_AFTER_SECONDS);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const portalFetch: typeof fetch = async (input, init) => {
  for (let attempt = 0; ; attempt += 1) {
    // Same origin only: the browser sends no referrer (the page's policy) and no cookies matter.
    const response = await fetch(input, { ...init, referrerPolicy: "no-referrer", credentials: "omit" });
    if (response.status === 401) {
      endSession();
      setSessionEnded();
      return response;
    }
    if (response.status !== 429 || attempt >= MAX_THROTTLED_RETRIES) {
      setThrottled(null);
      return response;
    }
    const waitMs = retryAfterSeconds(response) * 1000;
    setThrottled(Date.now() + waitMs);
    await sleep(waitMs);
  }
};

export function createApi(session: Session): Svix {
  return new Svix(session.token, {
    serverUrl: window.location.origin,
    requestTimeout: REQUEST_TIMEOUT_MS,
    fetch: portalFetch,
  });
}
