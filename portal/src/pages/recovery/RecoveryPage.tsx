/**
 * Replay and recovery for one endpoint: resend its failed messages since a time, send it the
 * messages it never got, or replay its messages narrowed by status, event type and channel. Each
 * runs in the background; the task list shows its progress and its result.
 */
import { useId, useState, type FormEvent } from "react";
import { useSearchParams } from "react-router";
import { type EndpointOut, MessageStatus } from "svix";

import { allEndpoints } from "../../parts/endpoints";
import { EndpointSelect } from "../../parts/EndpointSelect";
import { EventTypeInput } from "../../parts/EventTypeInput";
import { fromLocalInput, toLocalInput } from "../../parts/time";
import { EmptyState, Loaded, PageTitle, ProblemNotice } from "../../shell/components";
import { Can, usePortal } from "../../shell/context";
import { useAction, useResource } from "../../shell/useResource";
import { TaskList } from "./TaskList";

type Operation = "recover" | "replay-missing" | "bulk-replay";

const OPERATIONS: { value: Operation; label: string; hint: string }[] = [
  {
    value: "recover",
    label: "Recover failed messages",
    hint: "Sends again every message whose delivery to this endpoint failed in the window.",
  },
  {
    value: "replay-missing",
    label: "Replay missing messages",
    hint: "Sends the messages of the window this endpoint never got (created before it, or filtered out then).",
  },
  {
    value: "bulk-replay",
    label: "Bulk replay",
    hint: "Sends again the endpoint's messages of the window, narrowed by status, event type and channel.",
  },
];

const HOUR_MS = 3_600_000;

function Start({ endpoints, onStarted }: { endpoints: EndpointOut[]; onStarted: (taskId: string, label: string) => void }) {
  const { api, session } = usePortal();
  const ids = useId();
  const [params, setParams] = useSearchParams();
  const endpointId = endpoints.some((endpoint) => endpoint.id === params.get("endpoint"))
    ? (params.get("endpoint") ?? "")
    : (endpoints[0]?.id ?? "");
  const [operation, setOperation] = useState<Operation>("recover");
  const [since, setSince] = useState(() => toLocalInput(new Date(Date.now() - 24 * HOUR_MS)));
  const [until, setUntil] = useState("");
  const [status, setStatus] = useState("");
  const [eventType, setEventType] = useState("");
  const [channel, setChannel] = useState("");
  const [started, setStarted] = useState<string | null>(null);
  const start = useAction();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setStarted(null);
    const span = { since: fromLocalInput(since) ?? new Date(Date.now() - 24 * HOUR_MS), until: fromLocalInput(until) };
    const chosen = OPERATIONS.find((candidate) => candidate.value === operation)!;
    await start.run(async () => {
      const task =
        operation === "recover"
          ? await api.endpoint.recover(session.appId, endpointId, span)
          : operation === "replay-missing"
            ? await api.endpoint.replayMissing(session.appId, endpointId, span)
            : await api.endpoint.bulkReplay(session.appId, endpointId, {
                ...span,
                status: status === "" ? null : (Number(status) as MessageStatus),
                eventTypes: eventType ? [eventType] : null,
                channel: channel.trim() || null,
              });
      const url = endpoints.find((endpoint) => endpoint.id === endpointId)?.url ?? endpointId;
      setStarted(`${chosen.label} started for ${url}.`);
      onStarted(task.id, url);
    });
  };

  return (
    <section aria-labelledby="start-title" className="panel">
      <h2 id="start-title">Send messages again</h2>
      <form onSubmit={submit} aria-label="Start a recovery or replay">
        <EndpointSelect
          id={`${ids}-endpoint`}
          label="Endpoint"
          endpoints={endpoints}
          value={endpointId}
          onChange={(id) => setParams({ endpoint: id }, { replace: true })}
        />
        <fieldset className="field">
          <legend>What to send</legend>
          {OPERATIONS.map((candidate) => (
            <div key={candidate.value} className="choice">
              <input
                type="radio"
                id={`${ids}-${candidate.value}`}
                name={`${ids}-operation`}
                value={candidate.value}
                checked={operation === candidate.value}
                onChange={() => setOperation(candidate.value)}
                aria-describedby={`${ids}-${candidate.value}-hint`}
              />
              <label htmlFor={`${ids}-${candidate.value}`}>{candidate.label}</label>
              <span id={`${ids}-${candidate.value}-hint`} className="hint">
                {candidate.hint}
              </span>
            </div>
          ))}
        </fieldset>
        <div className="filters">
          <div className="field">
            <label htmlFor={`${ids}-since`}>Since</label>
            <input id={`${ids}-since`} type="datetime-local" required value={since} onChange={(event) => setSince(event.target.value)} />
          </div>
          <div className="field">
            <label htmlFor={`${ids}-until`}>Until (optional)</label>
            <input id={`${ids}-until`} type="datetime-local" value={until} onChange={(event) => setUntil(event.target.value)} />
          </div>
        </div>
        {operation === "bulk-replay" ? (
          <div className="filters">
            <div className="field">
              <label htmlFor={`${ids}-status`}>Status</label>
              <select id={`${ids}-status`} value={status} onChange={(event) => setStatus(event.target.value)}>
                <option value="">Any status</option>
                <option value={MessageStatus.Success}>Succeeded</option>
                <option value={MessageStatus.Fail}>Failed</option>
              </select>
            </div>
            <EventTypeInput id={`${ids}-type`} value={eventType} placeholder="Any event type" onChange={setEventType} />
            <div className="field">
              <label htmlFor={`${ids}-channel`}>Channel</label>
              <input id={`${ids}-channel`} value={channel} placeholder="Any channel" onChange={(event) => setChannel(event.target.value)} />
            </div>
          </div>
        ) : null}
        <div className="actions">
          <button type="submit" className="primary" disabled={start.pending || !endpointId}>
            Start
          </button>
        </div>
      </form>
      <p role="status" className="muted">
        {started}
      </p>
      {start.problem ? <ProblemNotice problem={start.problem} /> : null}
    </section>
  );
}

export function RecoveryPage() {
  const endpoints = useResource((api, appId) => allEndpoints(api, appId), []);
  const [refresh, setRefresh] = useState(0);
  const [labels, setLabels] = useState<ReadonlyMap<string, string>>(new Map());
  return (
    <>
      <PageTitle>Recovery</PageTitle>
      <div className="panels">
        <Can capability="CreateAttempts">
          <Loaded resource={endpoints} what="endpoints">
            {(list) =>
              list.length === 0 ? (
                <EmptyState title="No endpoints yet">
                  <p>Messages can be sent again once an endpoint receives them.</p>
                </EmptyState>
              ) : (
                <Start
                  endpoints={list}
                  onStarted={(taskId, label) => {
                    setLabels((previous) => new Map(previous).set(taskId, label));
                    setRefresh((n) => n + 1);
                  }}
                />
              )
            }
          </Loaded>
        </Can>
        <TaskList refresh={refresh} labels={labels} />
      </div>
    </>
  );
}
