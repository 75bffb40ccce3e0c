/** Creating and editing an endpoint: URL, description, filters, rate limit and custom headers. */
import { useId, useState, type FormEvent } from "react";
import type { EndpointHeadersOut, EndpointOut } from "svix";

import { ProblemNotice } from "../../shell/components";
import { usePortal } from "../../shell/context";
import { useAction, useResource } from "../../shell/useResource";

// Headers whose values are credentials: typed like passwords, never shown back (Herald withholds them:
// this list mirrors SENSITIVE_HEADERS in shared/services/endpoints.py, so change both together).
const SENSITIVE = new Set([
  "authorization",
  "proxy-authorization",
  "www-authenticate",
  "proxy-authenticate",
  "cookie",
  "x-api-key",
  "x-auth-token",
]);

interface HeaderRow {
  key: number;
  name: string;
  value: string;
  /** Saved before and withheld by Herald: an empty value keeps the saved one. */
  hidden: boolean;
}

function splitList(text: string): string[] {
  return [...new Set(text.split(",").map((part) => part.trim()).filter(Boolean))];
}

function EventTypeChoice({ selected, onChange }: { selected: string[]; onChange: (next: string[]) => void }) {
  const catalogue = useResource((api) => api.eventType.list({ limit: 250 }), []);
  const hintId = useId();
  const names =
    catalogue.state === "ready" ? catalogue.data.data.filter((type) => !type.archived).map((type) => type.name) : [];
  const all = [...new Set([...names, ...selected])].sort();
  if (all.length === 0) {
    return (
      <div className="field">
        <label htmlFor={`${hintId}-text`}>Event types</label>
        <input
          id={`${hintId}-text`}
          aria-describedby={hintId}
          value={selected.join(", ")}
          onChange={(event) => onChange(splitList(event.target.value))}
          placeholder="invoice.paid, invoice.failed"
        />
        <p id={hintId} className="hint">
          Comma-separated. Empty: every event type.
        </p>
      </div>
    );
  }
  return (
    <fieldset className="field choices" aria-describedby={hintId}>
      <legend>Event types</legend>
      <p id={hintId} className="hint">
        None checked: every event type.
      </p>
      {all.map((name) => (
        <label key={name} className="choice">
          <input
            type="checkbox"
            checked={selected.includes(name)}
            onChange={(event) =>
              onChange(event.target.checked ? [...selected, name] : selected.filter((other) => other !== name))
            }
          />
          {name}
        </label>
      ))}
    </fieldset>
  );
}

function HeadersEditor({ rows, onChange }: { rows: HeaderRow[]; onChange: (rows: HeaderRow[]) => void }) {
  const [nextKey, setNextKey] = useState(rows.length + 1);
  const update = (key: number, change: Partial<HeaderRow>) =>
    onChange(rows.map((row) => (row.key === key ? { ...row, ...change } : row)));
  return (
    <fieldset className="field headers">
      <legend>Custom headers</legend>
      <p className="hint">Sent with every webhook. Values of credential headers are hidden once saved.</p>
      {rows.map((row, index) => {
        const sensitive = row.hidden || SENSITIVE.has(row.name.trim().toLowerCase());
        return (
          <div className="header-row" key={row.key}>
            <label>
              <span className="visually-hidden">Header {index + 1} name</span>
              <input
                value={row.name}
                placeholder="X-Header-Name"
                readOnly={row.hidden}
                onChange={(event) => update(row.key, { name: event.target.value })}
              />
            </label>
            <label>
              <span className="visually-hidden">Header {index + 1} value</span>
              <input
                type={sensitive ? "password" : "text"}
                autoComplete="off"
                value={row.value}
                placeholder={row.hidden ? "Hidden: type to replace" : "value"}
                onChange={(event) => update(row.key, { value: event.target.value })}
              />
            </label>
            <button type="button" onClick={() => onChange(rows.filter((other) => other.key !== row.key))}>
              Remove<span className="visually-hidden"> header {index + 1}</span>
            </button>
          </div>
        );
      })}
      <button
        type="button"
        onClick={() => {
          onChange([...rows, { key: nextKey, name: "", value: "", hidden: false }]);
          setNextKey(nextKey + 1);
        }}
      >
        Add header
      </button>
    </fieldset>
  );
}

function initialRows(headers: EndpointHeadersOut | undefined): HeaderRow[] {
  if (headers === undefined) {
    return [];
  }
  const shown = Object.entries(headers.headers).map(([name, value]) => ({ name, value, hidden: false }));
  const hidden = headers.sensitive.map((name) => ({ name, value: "", hidden: true }));
  return [...shown, ...hidden].map((row, index) => ({ ...row, key: index + 1 }));
}

export function EndpointForm({
  existing,
  headers,
  onSaved,
  onCancel,
}: {
  existing?: EndpointOut;
  headers?: EndpointHeadersOut;
  onSaved: (endpointId: string) => void;
  onCancel: () => void;
}) {
  const { api, session } = usePortal();
  const save = useAction();
  const ids = useId();
  const [url, setUrl] = useState(existing?.url ?? "");
  const [description, setDescription] = useState(existing?.description ?? "");
  const [eventTypes, setEventTypes] = useState<string[]>(existing?.eventTypes ?? []);
  const [channels, setChannels] = useState((existing?.channels ?? []).join(", "));
  const [rate, setRate] = useState(existing?.throttleRate ? String(existing.throttleRate) : "");
  const [rows, setRows] = useState<HeaderRow[]>(() => initialRows(headers));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const throttleRate = rate.trim() ? Number(rate) : null;
    const channelList = splitList(channels);
    // A saved header whose value Herald withholds is sent again only when a new value was typed.
    const headerValues = Object.fromEntries(
      rows.filter((row) => row.name.trim() && (!row.hidden || row.value)).map((row) => [row.name.trim(), row.value]),
    );
    let savedId = existing?.id ?? "";
    const ok = await save.run(async () => {
      if (existing === undefined) {
        const created = await api.endpoint.create(session.appId, {
          url: url.trim(),
          description,
          eventTypes: eventTypes.length ? eventTypes : null,
          channels: channelList.length ? channelList : null,
          throttleRate,
          headers: Object.keys(headerValues).length ? headerValues : null,
        });
        savedId = created.id;
        return;
      }
      await api.endpoint.patch(session.appId, existing.id, {
        url: url.trim(),
        description,
        // Empty lists and a rate of 0 clear the filter and the limit.
        eventTypes,
        channels: channelList,
        throttleRate: throttleRate ?? 0,
      });
      const kept = new Set(rows.map((row) => row.name.trim().toLowerCase()));
      const before = initialRows(headers);
      const removed = before.filter((row) => !kept.has(row.name.toLowerCase())).map((row) => row.name);
      const changed = Object.fromEntries(
        Object.entries(headerValues).filter(
          ([name, value]) => !before.some((row) => row.name === name && row.value === value && !row.hidden),
        ),
      );
      if (removed.length || Object.keys(changed).length) {
        await api.endpoint.patchHeaders(session.appId, existing.id, { headers: changed, deleteHeaders: removed });
      }
    });
    if (ok) {
      onSaved(savedId);
    }
  };

  return (
    <form className="endpoint-form" onSubmit={submit}>
      <div className="field">
        <label htmlFor={`${ids}-url`}>Endpoint URL</label>
        <input
          id={`${ids}-url`}
          type="url"
          required
          value={url}
          onChange={(event) => setUrl(event.target.value)}
          placeholder="https://example.com/webhooks"
          aria-describedby={`${ids}-url-hint`}
        />
        <p id={`${ids}-url-hint`} className="hint">
          Where webhooks are sent (HTTPS). Private and internal addresses are refused.
        </p>
      </div>
      <div className="field">
        <label htmlFor={`${ids}-description`}>Description</label>
        <textarea
          id={`${ids}-description`}
          value={description}
          rows={2}
          onChange={(event) => setDescription(event.target.value)}
        />
      </div>
      <EventTypeChoice selected={eventTypes} onChange={setEventTypes} />
      <div className="field">
        <label htmlFor={`${ids}-channels`}>Channels</label>
        <input
          id={`${ids}-channels`}
          value={channels}
          onChange={(event) => setChannels(event.target.value)}
          aria-describedby={`${ids}-channels-hint`}
        />
        <p id={`${ids}-channels-hint`} className="hint">
          Comma-separated. Empty: every channel.
        </p>
      </div>
      <div className="field">
        <label htmlFor={`${ids}-rate`}>Rate limit (messages per second)</label>
        <input
          id={`${ids}-rate`}
          type="number"
          min={1}
          inputMode="numeric"
          value={rate}
          onChange={(event) => setRate(event.target.value)}
          aria-describedby={`${ids}-rate-hint`}
        />
        <p id={`${ids}-rate-hint`} className="hint">
          Empty: no limit.
        </p>
      </div>
      <HeadersEditor rows={rows} onChange={setRows} />
      {save.problem ? <ProblemNotice problem={save.problem} /> : null}
      <div className="actions">
        <button type="submit" className="primary" disabled={save.pending}>
          {existing ? "Save changes" : "Create endpoint"}
        </button>
        <button type="button" onClick={onCancel} disabled={save.pending}>
          Cancel
        </button>
      </div>
    </form>
  );
}
