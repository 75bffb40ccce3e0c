/**
 * An endpoint's activity as pictures: attempts that succeeded and failed per day over a window (up
 * to the retention), and how long its recent attempts took. Each with its table of numbers.
 */
import { useId, useState } from "react";
import { MessageStatus } from "svix";

import { AttemptOutcomeCells, Loaded, Table, Timestamp } from "../shell/components";
import { usePortal } from "../shell/context";
import { useResource } from "../shell/useResource";
import { usePortalConfig } from "../theme/config";
import { BarChart, ChartFigure, Legend, type Series } from "./Chart";
import { getAttemptStats } from "./stats";

const RANGES = [7, 30];
// Herald's own window when the portal cannot learn the retention.
const FALLBACK_DAYS = 7;
const RECENT_ATTEMPTS = 50;
const DAILY: Series[] = [
  { kind: "success", label: "Succeeded" },
  { kind: "failure", label: "Failed" },
  { kind: "canceled", label: "Canceled" },
];
const LATENCY: Series[] = [
  { kind: "success", label: "Succeeded" },
  { kind: "failure", label: "Failed" },
];

function Daily({ endpointId, days }: { endpointId: string; days: number }) {
  const { session } = usePortal();
  const stats = useResource(
    () => getAttemptStats(session, endpointId, days),
    [endpointId, days],
  );
  return (
    <Loaded resource={stats} what="attempt statistics">
      {({ totals, days: counts }) => (
        <ChartFigure
          testId="daily-chart"
          title="Attempts per day"
          caption={`Last ${days} days (UTC): ${totals.succeeded} succeeded, ${totals.failed} failed, ${totals.canceled} canceled.`}
          chart={
            <>
              <BarChart
                series={DAILY}
                columns={counts.map((count) => ({ label: count.day.slice(5), values: [count.succeeded, count.failed, count.canceled].map((n) => n || null) }))}
                summary={`Attempts per day over the last ${days} days: ${totals.succeeded} succeeded, ${totals.failed} failed.`}
              />
              <Legend series={DAILY} />
            </>
          }
          table={
            <Table columns={["Day (UTC)", "Succeeded", "Failed", "Canceled"]}>
              {counts.map((count) => (
                <tr key={count.day}>
                  <th scope="row">{count.day}</th>
                  <td>{count.succeeded}</td>
                  <td>{count.failed}</td>
                  <td>{count.canceled}</td>
                </tr>
              ))}
            </Table>
          }
        />
      )}
    </Loaded>
  );
}

function Latency({ endpointId }: { endpointId: string }) {
  const attempts = useResource(
    (api, appId) => api.messageAttempt.listByEndpoint(appId, endpointId, { limit: RECENT_ATTEMPTS }),
    [endpointId],
  );
  return (
    <Loaded resource={attempts} what="recent attempts">
      {(page) => {
        // Oldest first, as time reads left to right.
        const recent = [...page.data].reverse();
        if (recent.length === 0) {
          return <p className="muted">No attempts yet: their response times appear here.</p>;
        }
        const durations = recent.map((attempt) => attempt.responseDurationMs);
        const sorted = [...durations].sort((a, b) => a - b);
        const median = sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
        const slowest = sorted[sorted.length - 1] ?? 0;
        return (
          <ChartFigure
            testId="latency-chart"
            title="Response time of recent attempts"
            caption={`The last ${recent.length} attempts: median ${median} ms, slowest ${slowest} ms.`}
            chart={
              <>
                <BarChart
                  series={LATENCY}
                  unit=" ms"
                  columns={recent.map((attempt) => ({
                    label: attempt.timestamp.toISOString().slice(11, 16),
                    // One part per attempt, in its outcome's colour, however quick it was.
                    values: attempt.status === MessageStatus.Success ? [attempt.responseDurationMs, null] : [null, attempt.responseDurationMs],
                  }))}
                  summary={`Response times of the last ${recent.length} attempts: median ${median} ms, slowest ${slowest} ms.`}
                />
                <Legend series={LATENCY} />
              </>
            }
            table={
              <Table columns={["Time", "Status", "Code", "Duration"]}>
                {recent.map((attempt) => (
                  <tr key={attempt.id}>
                    <td>
                      <Timestamp value={attempt.timestamp} />
                    </td>
                    <AttemptOutcomeCells attempt={attempt} />
                  </tr>
                ))}
              </Table>
            }
          />
        );
      }}
    </Loaded>
  );
}

export function EndpointActivity({ endpointId }: { endpointId: string }) {
  const { session } = usePortal();
  const config = usePortalConfig(session);
  const retention = config.state === "ready" ? config.data.retentionDays : config.state === "error" ? FALLBACK_DAYS : null;
  const [chosen, setChosen] = useState<number | null>(null);
  const rangeId = useId();
  const ranges = retention === null ? [] : [...new Set([...RANGES.filter((days) => days < retention), retention])];
  // The whole retention window first: everything Herald still knows of.
  const days = chosen ?? retention;
  return (
    <section aria-labelledby="activity-title" className="panel">
      <h2 id="activity-title">Activity</h2>
      {days === null ? null : (
        <>
          <div className="range">
            <label htmlFor={rangeId}>Window</label>
            <select id={rangeId} value={days} onChange={(event) => setChosen(Number(event.target.value))}>
              {ranges.map((option) => (
                <option key={option} value={option}>
                  {option === retention ? `Last ${option} days (all kept)` : `Last ${option} days`}
                </option>
              ))}
            </select>
          </div>
          <Daily endpointId={endpointId} days={days} />
        </>
      )}
      <Latency endpointId={endpointId} />
    </section>
  );
}
