/**
 * An endpoint's attempt log: every delivery attempt, filtered by status, status code class, event
 * type, channel, tag and date; each links to its message. A filtered list can be resent at once.
 */
import { useId, useState, type FormEvent } from "react";
import { Link } from "react-router";
import { type EndpointOut, type MessageAttemptOut, MessageStatus, StatusCodeClass } from "svix";

import { allEndpoints } from "../../parts/endpoints";
import { EndpointSelect } from "../../parts/EndpointSelect";
import { EventTypeInput } from "../../parts/EventTypeInput";
import { dayStart } from "../../parts/time";
import {
  AttemptOutcomeCells,
  EmptyState,
  Loaded,
  PageTitle,
  PagedList,
  ProblemNotice,
  Table,
  TableScroll,
  Timestamp,
} from "../../shell/components";
import { Can, usePortal } from "../../shell/context";
import { useFilterParams } from "../../shell/filters";
import { usePaging } from "../../shell/paging";
import { useAction, useResource } from "../../shell/useResource";

const PAGE_SIZE = 25;
const FILTERS = ["status", "code", "eventType", "channel", "tag", "from", "to"] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

const STATUS_CHOICES: [MessageStatus, string][] = [
  [MessageStatus.Success, "Succeeded"],
  [MessageStatus.Fail, "Failed"],
  [MessageStatus.Pending, "Pending"],
  [MessageStatus.Sending, "Sending"],
];
const CODE_CHOICES: [StatusCodeClass, string][] = [
  [StatusCodeClass.Code2xx, "2xx"],
  [StatusCodeClass.Code3xx, "3xx"],
  [StatusCodeClass.Code4xx, "4xx"],
  [StatusCodeClass.Code5xx, "5xx"],
  [StatusCodeClass.Code1xx, "1xx"],
  [StatusCodeClass.CodeNone, "No response"],
];

function FilterForm({
  endpoints,
  endpointId,
  filters,
  onApply,
}: {
  endpoints: EndpointOut[];
  endpointId: string;
  filters: Filters;
  onApply: (endpointId: string, next: Filters) => void;
}) {
  const ids = useId();
  const [draft, setDraft] = useState(filters);
  const [endpoint, setEndpoint] = useState(endpointId);
  const set = (name: keyof Filters) => (event: { target: { value: string } }) =>
    setDraft({ ...draft, [name]: event.target.value });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onApply(endpoint, draft);
  };
  return (
    <form className="filters" onSubmit={submit} aria-label="Filter attempts">
      <EndpointSelect id={`${ids}-endpoint`} label="Endpoint" endpoints={endpoints} value={endpoint} onChange={setEndpoint} />
      <div className="field">
        <label htmlFor={`${ids}-status`}>Status</label>
        <select id={`${ids}-status`} value={draft.status} onChange={set("status")}>
          <option value="">Any status</option>
          {STATUS_CHOICES.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor={`${ids}-code`}>Response code</label>
        <select id={`${ids}-code`} value={draft.code} onChange={set("code")}>
          <option value="">Any code</option>
          {CODE_CHOICES.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </div>
      <EventTypeInput
        id={`${ids}-type`}
        value={draft.eventType}
        placeholder="All event types"
        onChange={(eventType) => setDraft({ ...draft, eventType })}
      />
      <div className="field">
        <label htmlFor={`${ids}-channel`}>Channel</label>
        <input id={`${ids}-channel`} value={draft.channel} placeholder="Any channel" onChange={set("channel")} />
      </div>
      <div className="field">
        <label htmlFor={`${ids}-tag`}>Tag</label>
        <input id={`${ids}-tag`} value={draft.tag} placeholder="Any tag" onChange={set("tag")} />
      </div>
      <div className="field">
        <label htmlFor={`${ids}-from`}>From</label>
        <input id={`${ids}-from`} type="date" value={draft.from} onChange={set("from")} />
      </div>
      <div className="field">
        <label htmlFor={`${ids}-to`}>To</label>
        <input id={`${ids}-to`} type="date" value={draft.to} onChange={set("to")} />
      </div>
      <div className="actions">
        <button type="submit">Apply filters</button>
      </div>
    </form>
  );
}

/** Resends each message of the list to the endpoint, one after another, saying how far it got. */
function ResendShown({ endpointId, attempts }: { endpointId: string; attempts: MessageAttemptOut[] }) {
  const { api, session } = usePortal();
  const resend = useAction();
  const [done, setDone] = useState<number | null>(null);
  const messages = [...new Set(attempts.map((attempt) => attempt.msgId))];
  return (
    <div className="actions">
      <button
        type="button"
        disabled={resend.pending}
        onClick={() => {
          setDone(0);
          void resend.run(async () => {
            for (const [index, msgId] of messages.entries()) {
              await api.messageAttempt.resend(session.appId, msgId, endpointId);
              setDone(index + 1);
            }
          });
        }}
      >
        {messages.length === 1 ? "Resend this message" : `Resend these ${messages.length} messages`}
      </button>
      <span role="status" className="muted">
        {done === null ? null : `Resent ${done} of ${messages.length}.`}
      </span>
      {resend.problem ? <ProblemNotice problem={resend.problem} /> : null}
    </div>
  );
}

function Attempts({ endpointId, filters }: { endpointId: string; filters: Filters }) {
  const paging = usePaging();
  const attempts = useResource(
    (api, appId) =>
      api.messageAttempt.listByEndpoint(appId, endpointId, {
        limit: PAGE_SIZE,
        iterator: paging.iterator,
        withMsg: true,
        status: filters.status === "" ? undefined : (Number(filters.status) as MessageStatus),
        statusCodeClass: filters.code === "" ? undefined : (Number(filters.code) as StatusCodeClass),
        eventTypes: filters.eventType ? [filters.eventType] : undefined,
        channel: filters.channel.trim() || undefined,
        tag: filters.tag.trim() || undefined,
        after: filters.from ? dayStart(filters.from) : null,
        before: filters.to ? dayStart(filters.to, 1) : null,
      }),
    [paging.iterator],
  );
  return (
    <PagedList
      resource={attempts}
      paging={paging}
      what="attempts"
      pagerLabel="Attempt pages"
      empty={<EmptyState title="No attempts match these filters" />}
    >
      {(shown) => (
        <>
          <Can capability="CreateAttempts">
            <ResendShown endpointId={endpointId} attempts={shown} />
          </Can>
          <TableScroll label="Attempts">
            <Table columns={["Time", "Message", "Status", "Code", "Duration", "Trigger"]}>
              {shown.map((attempt) => (
                <tr key={attempt.id} data-testid="attempt-row">
                  <td>
                    <Timestamp value={attempt.timestamp} />
                  </td>
                  <td>
                    <Link to={`/messages/${encodeURIComponent(attempt.msgId)}`}>{attempt.msg?.eventId ?? attempt.msgId}</Link>
                    {attempt.msg ? <div className="muted">{attempt.msg.eventType}</div> : null}
                  </td>
                  <AttemptOutcomeCells attempt={attempt} />
                  <td>{attempt.triggerType === 1 ? "Manual" : "Scheduled"}</td>
                </tr>
              ))}
            </Table>
          </TableScroll>
        </>
      )}
    </PagedList>
  );
}

export function AttemptLog() {
  const { params, filters, setFilters } = useFilterParams(FILTERS);
  const endpoints = useResource((api, appId) => allEndpoints(api, appId), []);
  const apply = (endpointId: string, next: Filters) => setFilters({ endpoint: endpointId, ...next });
  return (
    <>
      <PageTitle>Attempts</PageTitle>
      <Loaded resource={endpoints} what="endpoints">
        {(list) => {
          const chosen = list.find((endpoint) => endpoint.id === params.get("endpoint")) ?? list[0];
          if (chosen === undefined) {
            return (
              <EmptyState title="No endpoints yet">
                <p>Each endpoint's delivery attempts are listed here once it has one.</p>
              </EmptyState>
            );
          }
          return (
            <>
              <FilterForm key={params.toString()} endpoints={list} endpointId={chosen.id} filters={filters} onApply={apply} />
              <p>
                <Link to={`/endpoints/${encodeURIComponent(chosen.id)}`}>Endpoint settings and health</Link>
              </p>
              {/* Other filters are another list: it starts again at its first page. */}
              <Attempts key={`${chosen.id}?${params.toString()}`} endpointId={chosen.id} filters={filters} />
            </>
          );
        }}
      </Loaded>
    </>
  );
}
