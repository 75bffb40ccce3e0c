/** The message log: messages by event type, channel, tag and date, newest first, a page at a time. */
import { useId, useState, type FormEvent } from "react";
import { Link } from "react-router";

import { dayStart } from "../../parts/time";

import { EmptyState, PageTitle, PagedList, Table, TableScroll, Timestamp } from "../../shell/components";
import { useCan } from "../../shell/context";
import { useFilterParams } from "../../shell/filters";
import { usePaging } from "../../shell/paging";
import { useResource } from "../../shell/useResource";
import { MessageSearch } from "./MessageSearch";

const PAGE_SIZE = 20;

const FILTERS = ["eventType", "channel", "tag", "from", "to"] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

function FilterForm({ filters, onApply }: { filters: Filters; onApply: (next: Filters) => void }) {
  const ids = useId();
  const [draft, setDraft] = useState(filters);
  const catalogue = useResource((api) => api.eventType.list({ limit: 250 }), []);
  const names = catalogue.state === "ready" ? catalogue.data.data.map((type) => type.name) : [];
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onApply(draft);
  };
  return (
    <form className="filters" onSubmit={submit} aria-label="Filter messages">
      <div className="field">
        <label htmlFor={`${ids}-type`}>Event type</label>
        {names.length ? (
          <select
            id={`${ids}-type`}
            value={draft.eventType}
            onChange={(event) => setDraft({ ...draft, eventType: event.target.value })}
          >
            <option value="">All event types</option>
            {[...new Set([...names, ...(draft.eventType ? [draft.eventType] : [])])].map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        ) : (
          <input
            id={`${ids}-type`}
            value={draft.eventType}
            placeholder="All event types"
            onChange={(event) => setDraft({ ...draft, eventType: event.target.value.trim() })}
          />
        )}
      </div>
      <div className="field">
        <label htmlFor={`${ids}-channel`}>Channel</label>
        <input
          id={`${ids}-channel`}
          value={draft.channel}
          placeholder="Any channel"
          onChange={(event) => setDraft({ ...draft, channel: event.target.value.trim() })}
        />
      </div>
      <div className="field">
        <label htmlFor={`${ids}-tag`}>Tag</label>
        <input
          id={`${ids}-tag`}
          value={draft.tag}
          placeholder="Any tag"
          onChange={(event) => setDraft({ ...draft, tag: event.target.value.trim() })}
        />
      </div>
      <div className="field">
        <label htmlFor={`${ids}-from`}>From</label>
        <input
          id={`${ids}-from`}
          type="date"
          value={draft.from}
          onChange={(event) => setDraft({ ...draft, from: event.target.value })}
        />
      </div>
      <div className="field">
        <label htmlFor={`${ids}-to`}>To</label>
        <input
          id={`${ids}-to`}
          type="date"
          value={draft.to}
          onChange={(event) => setDraft({ ...draft, to: event.target.value })}
        />
      </div>
      <div className="actions">
        <button type="submit">Apply filters</button>
      </div>
    </form>
  );
}

function Messages({ filters }: { filters: Filters }) {
  const paging = usePaging();
  const canManage = useCan("ManageEndpoint");
  const filtered = Object.values(filters).some(Boolean);
  const messages = useResource(
    (api, appId) =>
      api.message.list(appId, {
        limit: PAGE_SIZE,
        iterator: paging.iterator,
        eventTypes: filters.eventType ? [filters.eventType] : undefined,
        channel: filters.channel || undefined,
        tag: filters.tag || undefined,
        after: filters.from ? dayStart(filters.from) : null,
        before: filters.to ? dayStart(filters.to, 1) : null,
      }),
    [paging.iterator],
  );
  const empty = filtered ? (
    <EmptyState title="No messages match these filters" />
  ) : (
    <EmptyState title="No messages yet">
      <p>Messages appear here as soon as they are sent to this application.</p>
      {canManage ? (
        <p>
          To receive them, <Link to="/endpoints/new">add an endpoint</Link> first.
        </p>
      ) : null}
    </EmptyState>
  );
  return (
    <PagedList resource={messages} paging={paging} what="messages" pagerLabel="Message pages" empty={empty}>
      {(shown) => (
        <TableScroll label="Messages">
          <Table columns={["Event type", "Message", "Sent"]}>
            {shown.map((message) => (
              <tr key={message.id}>
                <td>{message.eventType}</td>
                <td>
                  <Link to={`/messages/${encodeURIComponent(message.id)}`}>{message.eventId ?? message.id}</Link>
                </td>
                <td>
                  <Timestamp value={message.timestamp} />
                </td>
              </tr>
            ))}
          </Table>
        </TableScroll>
      )}
    </PagedList>
  );
}

export function MessageList() {
  const { params, filters, setFilters } = useFilterParams(FILTERS);
  return (
    <>
      <PageTitle>Messages</PageTitle>
      <MessageSearch />
      <FilterForm filters={filters} onApply={setFilters} />
      {/* Other filters are another list: it starts again at its first page. */}
      <Messages key={params.toString()} filters={filters} />
    </>
  );
}
