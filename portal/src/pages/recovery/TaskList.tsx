/** The application's background tasks (recoveries, replays), newest first, with their progress. */
import { useEffect } from "react";
import { type BackgroundTaskOut, BackgroundTaskStatus, BackgroundTaskType } from "svix";

import { EmptyState, Loaded, Table, TableScroll, Timestamp } from "../../shell/components";
import { useResource } from "../../shell/useResource";

const TASK_PAGE = 20;
// While a task runs its progress is read again this often.
const POLL_MS = 1000;

const KINDS: Partial<Record<BackgroundTaskType, string>> = {
  [BackgroundTaskType.EndpointRecover]: "Recover failed messages",
  [BackgroundTaskType.EndpointReplay]: "Replay missing messages",
  [BackgroundTaskType.EndpointBulkReplay]: "Bulk replay",
  [BackgroundTaskType.ApplicationPurgeContent]: "Purge message contents",
};

const STATUSES: Record<BackgroundTaskStatus, string> = {
  [BackgroundTaskStatus.Running]: "Running",
  [BackgroundTaskStatus.Finished]: "Finished",
  [BackgroundTaskStatus.Failed]: "Failed",
};

function count(data: unknown, name: string): number | null {
  const value = typeof data === "object" && data !== null ? (data as Record<string, unknown>)[name] : undefined;
  return typeof value === "number" ? value : null;
}

function Progress({ task }: { task: BackgroundTaskOut }) {
  const sent = count(task.data, "messagesSent");
  const failed = count(task.data, "messagesFailed");
  const purged = count(task.data, "messagesPurged");
  const parts = [
    sent !== null ? `${sent} sent` : null,
    failed ? `${failed} could not be sent` : null,
    purged !== null ? `${purged} purged` : null,
  ].filter(Boolean);
  return <span>{parts.length ? parts.join(", ") : "—"}</span>;
}

/** `labels`: what this page knows of tasks it started (the endpoint), by task id. */
export function TaskList({ refresh, labels }: { refresh: number; labels: ReadonlyMap<string, string> }) {
  const tasks = useResource((api) => api.backgroundTask.list({ limit: TASK_PAGE }), [refresh]);
  const running = tasks.state === "ready" && tasks.data.data.some((task) => task.status === BackgroundTaskStatus.Running);
  const { reload } = tasks;
  const shown = tasks.state === "ready" ? tasks.data : null;
  // Each answer that still has a running task schedules the next read.
  useEffect(() => {
    if (!running) {
      return;
    }
    const timer = window.setTimeout(reload, POLL_MS);
    return () => window.clearTimeout(timer);
  }, [running, reload, shown]);
  return (
    <section aria-labelledby="tasks-title" className="panel">
      <h2 id="tasks-title">Tasks</h2>
      <Loaded resource={tasks} what="tasks">
        {(page) =>
          page.data.length === 0 ? (
            <EmptyState title="No tasks yet">
              <p>Recoveries and replays appear here, with their progress, as soon as they start.</p>
            </EmptyState>
          ) : (
            <TableScroll label="Tasks">
              <Table columns={["Task", "Status", "Progress", "Updated"]}>
                {page.data.map((task) => (
                  <tr key={task.id} data-testid="task">
                    <td>
                      {KINDS[task.task] ?? task.task}
                      {labels.has(task.id) ? <div className="muted break">{labels.get(task.id)}</div> : null}
                    </td>
                    <td>
                      <span className={`badge badge-task-${task.status}`}>{STATUSES[task.status] ?? task.status}</span>
                    </td>
                    <td>
                      <Progress task={task} />
                    </td>
                    <td>
                      <Timestamp value={task.updatedAt} />
                    </td>
                  </tr>
                ))}
              </Table>
            </TableScroll>
          )
        }
      </Loaded>
    </section>
  );
}
