/**
 * Herald's own routes, which the Svix SDK does not know: called with the same token and through
 * the same fetch (429 back-off, 401 ends the session), and failing with the SDK's ApiException.
 */
import { ApiException } from "svix";

import { portalFetch } from "./api";
import type { Session } from "./session";

export interface EndpointHealth {
  circuit: "closed" | "open" | "half-open";
  /** Consecutive failed attempts since the last success. */
  failures: number;
  failingSince: string | null;
  openUntil: string | null;
  disabled: boolean;
  /** Why the endpoint is disabled: "manual", "failing" (automatically, after failing too long), "gone" (410). */
  disabledReason: "manual" | "failing" | "gone" | null;
  disabledAt: string | null;
}

export async function getJson<T>(session: Session, path: string): Promise<T> {
  const response = await portalFetch(`${window.location.origin}${path}`, {
    headers: { accept: "application/json", authorization: `Bearer ${session.token}` },
  });
  const text = await response.text();
  if (!response.ok) {
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: the body stays the text.
    }
    throw new ApiException(response.status, body, response.headers);
  }
  return JSON.parse(text) as T;
}

export function getEndpointHealth(session: Session, endpointId: string): Promise<EndpointHealth> {
  const app = encodeURIComponent(session.appId);
  const endpoint = encodeURIComponent(endpointId);
  return getJson<EndpointHealth>(session, `/api/v1/app/${app}/endpoint/${endpoint}/health`);
}
