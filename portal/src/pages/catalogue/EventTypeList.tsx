/** The event catalogue: every event type the application can receive, by group, searchable. */
import { useId, useMemo } from "react";
import { Link, useSearchParams } from "react-router";
import type { EventTypeOut, Svix } from "svix";

import { EmptyState, Loaded, PageTitle } from "../../shell/components";
import { readAll } from "../../shell/paging";
import { useResource } from "../../shell/useResource";

const TYPE_PAGE = 250;
const MAX_TYPE_PAGES = 8;
const UNGROUPED = "Other";

/** Every event type that is not archived (a catalogue reads them all, then searches in the page). */
export async function allEventTypes(api: Svix): Promise<EventTypeOut[]> {
  const types = await readAll((iterator) => api.eventType.list({ limit: TYPE_PAGE, iterator }), MAX_TYPE_PAGES);
  return types.filter((type) => !type.archived);
}

function matches(type: EventTypeOut, words: string[]): boolean {
  const text = `${type.name} ${type.description} ${type.groupName ?? ""}`.toLowerCase();
  return words.every((word) => text.includes(word));
}

function Groups({ types, search }: { types: EventTypeOut[]; search: string }) {
  const groups = useMemo(() => {
    const words = search.toLowerCase().split(/\s+/).filter(Boolean);
    const byGroup = new Map<string, EventTypeOut[]>();
    for (const type of types.filter((candidate) => matches(candidate, words))) {
      const group = type.groupName || UNGROUPED;
      byGroup.set(group, [...(byGroup.get(group) ?? []), type]);
    }
    // Named groups first, alphabetically; the ungrouped ones last.
    return [...byGroup.entries()].sort(([a], [b]) =>
      a === UNGROUPED ? 1 : b === UNGROUPED ? -1 : a.localeCompare(b),
    );
  }, [types, search]);
  if (types.length === 0) {
    return (
      <EmptyState title="No event types yet">
        <p>The event types this application sends appear here once they are defined.</p>
      </EmptyState>
    );
  }
  if (groups.length === 0) {
    return <EmptyState title="No event type matches this search" />;
  }
  const count = groups.reduce((sum, [, members]) => sum + members.length, 0);
  return (
    <>
      <p className="muted" role="status">
        {count === 1 ? "1 event type" : `${count} event types`}
      </p>
      {groups.map(([group, members]) => (
        <section key={group} className="catalogue-group" aria-label={group}>
          <h2>{group}</h2>
          <ul className="cards">
            {[...members]
              .sort((a, b) => a.name.localeCompare(b.name))
              .map((type) => (
                <li key={type.name} className="card">
                  <Link className="card-title" to={`/event-types/${encodeURIComponent(type.name)}`}>
                    {type.name}
                  </Link>
                  {type.deprecated ? <span className="badge badge-deprecated">Deprecated</span> : null}
                  {type.description ? <p className="muted">{type.description}</p> : null}
                </li>
              ))}
          </ul>
        </section>
      ))}
    </>
  );
}

export function EventTypeList() {
  const [params, setParams] = useSearchParams();
  const search = params.get("q") ?? "";
  const searchId = useId();
  const types = useResource((api) => allEventTypes(api), []);
  return (
    <>
      <PageTitle>Event types</PageTitle>
      <form className="filters" role="search" onSubmit={(event) => event.preventDefault()}>
        <div className="field">
          <label htmlFor={searchId}>Search event types</label>
          <input
            id={searchId}
            type="search"
            value={search}
            placeholder="Name, description or group"
            onChange={(event) => setParams(event.target.value ? { q: event.target.value } : {}, { replace: true })}
          />
        </div>
      </form>
      <Loaded resource={types} what="event types">
        {(list) => <Groups types={list} search={search} />}
      </Loaded>
    </>
  );
}
