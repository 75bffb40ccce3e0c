/**
 * What every page shares about the connection to Herald: whether requests are being held back
 * (429) and whether the session has ended (401). The API client writes it; the layout shows it.
 */
import { useSyncExternalStore } from "react";

export interface ConnectionStatus {
  /** While requests wait out a 429: when the next try goes (epoch milliseconds). */
  throttledUntil: number | null;
  /** Herald refused the token (expired or revoked): nothing more can be done with it. */
  sessionEnded: boolean;
}

let current: ConnectionStatus = { throttledUntil: null, sessionEnded: false };
const listeners = new Set<() => void>();

function publish(next: ConnectionStatus): void {
  current = next;
  for (const listener of listeners) {
    listener();
  }
}

export function setThrottled(until: number | null): void {
  publish({ ...current, throttledUntil: until });
}

export function setSessionEnded(): void {
  publish({ ...current, sessionEnded: true });
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useConnectionStatus(): ConnectionStatus {
  return useSyncExternalStore(subscribe, () => current);
}
