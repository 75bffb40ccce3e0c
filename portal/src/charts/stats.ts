/** An endpoint's attempts per UTC day (Herald's GET .../endpoint/{id}/attempt-stats; the SDK has no call for it). */
import { getJson } from "../shell/herald";
import type { Session } from "../shell/session";

interface AttemptStatsWire {
  success: number;
  fail: number;
  canceled: number;
  startDate: string;
  endDate: string;
  data: { successCount: number[]; failureCount: number[]; canceledCount: number[] };
}

export interface DayCounts {
  /** The UTC day, `yyyy-mm-dd`. */
  day: string;
  succeeded: number;
  failed: number;
  canceled: number;
}

export interface AttemptStats {
  totals: { succeeded: number; failed: number; canceled: number };
  days: DayCounts[];
}

const DAY_MS = 86_400_000;

const HOUR_MS = 3_600_000;

/**
 * The `windowDays` days that end at the next whole hour. Herald rounds a window out to whole hours and
 * refuses one longer than its retention: ending it on the hour, and saying so, keeps a window of
 * exactly the retention within it, whatever this clock's skew from Herald's.
 */
export async function getAttemptStats(session: Session, endpointId: string, windowDays: number): Promise<AttemptStats> {
  const app = encodeURIComponent(session.appId);
  const endpoint = encodeURIComponent(endpointId);
  const until = Math.ceil(Date.now() / HOUR_MS) * HOUR_MS;
  const query = new URLSearchParams({
    since: new Date(until - windowDays * DAY_MS).toISOString(),
    until: new Date(until).toISOString(),
  });
  const wire = await getJson<AttemptStatsWire>(session, `/api/v1/app/${app}/endpoint/${endpoint}/attempt-stats?${query}`);
  // Counted per UTC day from the day the window starts, oldest first.
  const first = Date.parse(`${wire.startDate.slice(0, 10)}T00:00:00Z`);
  const days = wire.data.successCount.map((succeeded, index) => ({
    day: new Date(first + index * DAY_MS).toISOString().slice(0, 10),
    succeeded,
    failed: wire.data.failureCount[index] ?? 0,
    canceled: wire.data.canceledCount[index] ?? 0,
  }));
  return { totals: { succeeded: wire.success, failed: wire.fail, canceled: wire.canceled }, days };
}
