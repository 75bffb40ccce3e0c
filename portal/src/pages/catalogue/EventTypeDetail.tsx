/** One event type: what it means, its schema and examples; subscribing an endpoint; sending an example. */
import { useId, useState, type FormEvent } from "react";
import { Link, useParams } from "react-router";
import type { EndpointOut, EventTypeOut } from "svix";

import { allEndpoints, endpointLabel } from "../../parts/endpoints";
import { EndpointSelect } from "../../parts/EndpointSelect";
import { BackLink, Loaded, PageTitle, ProblemNotice, Table, TableScroll, TextBlock, prettyJson } from "../../shell/components";
import { Can, usePortal } from "../../shell/context";
import { useAction, useResource } from "../../shell/useResource";
import { schemaVersions, sendableExamples } from "./schema";

function Schema({ type }: { type: EventTypeOut }) {
  const versions = schemaVersions(type.schemas);
  return (
    <section aria-labelledby="schema-title" className="panel">
      <h2 id="schema-title">Schema</h2>
      {versions.length === 0 ? <p className="muted">This event type has no schema.</p> : null}
      {versions.map((version) => (
        <div key={version.version} className="schema-version">
          {versions.length > 1 ? <h3>Version {version.version}</h3> : null}
          {version.properties.length ? (
            <TableScroll>
              <Table label={`Fields of version ${version.version}`} columns={["Field", "Type", "Description"]}>
                {version.properties.map((property) => (
                  <tr key={property.name}>
                    <td>
                      <code>{property.name}</code>
                      {property.required ? <span className="muted"> (required)</span> : null}
                    </td>
                    <td>{property.type}</td>
                    <td>{property.description || "—"}</td>
                  </tr>
                ))}
              </Table>
            </TableScroll>
          ) : null}
          <details>
            <summary>JSON Schema</summary>
            <TextBlock label={`JSON Schema, version ${version.version}`} text={prettyJson(version.schema)} />
          </details>
          {version.examples.map((example, index) => (
            <div key={index}>
              <h3>{version.examples.length > 1 ? `Example ${index + 1}` : "Example"}</h3>
              <TextBlock label={`Example ${index + 1} of version ${version.version}`} text={prettyJson(example)} />
            </div>
          ))}
        </div>
      ))}
    </section>
  );
}

function Subscribe({ type, endpoints, onChanged }: { type: EventTypeOut; endpoints: EndpointOut[]; onChanged: () => void }) {
  const { api, session } = usePortal();
  const ids = useId();
  // An endpoint without filters receives every event type already: only filtered ones can subscribe.
  const candidates = endpoints.filter((endpoint) => endpoint.eventTypes?.length && !endpoint.eventTypes.includes(type.name));
  const receiving = endpoints.filter((endpoint) => !endpoint.eventTypes?.length || endpoint.eventTypes.includes(type.name));
  const [choice, setChoice] = useState("");
  // Once subscribed, an endpoint leaves the choices: the next one is chosen.
  const chosen = candidates.some((candidate) => candidate.id === choice) ? choice : (candidates[0]?.id ?? "");
  const [done, setDone] = useState<string | null>(null);
  const subscribe = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const endpoint = candidates.find((candidate) => candidate.id === chosen);
    if (!endpoint) {
      return;
    }
    setDone(null);
    const ok = await subscribe.run(async () => {
      await api.endpoint.patch(session.appId, endpoint.id, { eventTypes: [...(endpoint.eventTypes ?? []), type.name] });
    });
    if (ok) {
      setDone(endpointLabel(endpoint));
      onChanged();
    }
  };
  return (
    <section aria-labelledby="subscribe-title" className="panel">
      <h2 id="subscribe-title">Endpoints receiving it</h2>
      {receiving.length ? (
        <ul className="plain-list" aria-label="Endpoints receiving this event type">
          {receiving.map((endpoint) => (
            <li key={endpoint.id}>
              <Link to={`/endpoints/${encodeURIComponent(endpoint.id)}`} className="break">
                {endpointLabel(endpoint)}
              </Link>
              {endpoint.eventTypes?.length ? null : <span className="muted"> (every event type)</span>}
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted">No endpoint receives it yet.</p>
      )}
      <Can capability="ManageEndpoint">
        {candidates.length ? (
          <form onSubmit={submit} aria-label="Subscribe an endpoint">
            <EndpointSelect id={`${ids}-endpoint`} label="Endpoint to subscribe" endpoints={candidates} value={chosen} onChange={setChoice} />
            <div className="actions">
              <button type="submit" className="primary" disabled={subscribe.pending || !chosen}>
                Subscribe
              </button>
            </div>
          </form>
        ) : null}
      </Can>
      <p role="status" className="muted">
        {done ? `${done} now receives ${type.name}.` : null}
      </p>
      {subscribe.problem ? <ProblemNotice problem={subscribe.problem} /> : null}
    </section>
  );
}

function SendExample({ type, endpoints }: { type: EventTypeOut; endpoints: EndpointOut[] }) {
  const { api, session } = usePortal();
  const ids = useId();
  const examples = sendableExamples(type.schemas);
  const enabled = endpoints.filter((endpoint) => !endpoint.disabled);
  const [endpointId, setEndpointId] = useState(enabled[0]?.id ?? "");
  const [exampleIndex, setExampleIndex] = useState(examples[0]?.index ?? 0);
  const [sent, setSent] = useState<string | null>(null);
  const send = useAction();
  if (examples.length === 0 || enabled.length === 0) {
    return null;
  }
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSent(null);
    await send.run(async () => {
      const message = await api.endpoint.sendExample(session.appId, endpointId, { eventType: type.name, exampleIndex });
      setSent(message.id);
    });
  };
  return (
    <section aria-labelledby="example-title" className="panel">
      <h2 id="example-title">Send an example</h2>
      <p className="hint">The endpoint receives the example as a real, signed message of this event type.</p>
      <form onSubmit={submit} aria-label="Send an example">
        <EndpointSelect id={`${ids}-endpoint`} label="Send to" endpoints={enabled} value={endpointId} onChange={setEndpointId} />
        {examples.length > 1 ? (
          <div className="field">
            <label htmlFor={`${ids}-example`}>Example</label>
            <select id={`${ids}-example`} value={exampleIndex} onChange={(event) => setExampleIndex(Number(event.target.value))}>
              {examples.map(({ index }) => (
                <option key={index} value={index}>
                  Example {index + 1}
                </option>
              ))}
            </select>
          </div>
        ) : null}
        <div className="actions">
          <button type="submit" className="primary" disabled={send.pending || !endpointId}>
            Send example
          </button>
        </div>
      </form>
      <p role="status" className="muted">
        {sent ? (
          <>
            Sent as message <Link to={`/messages/${encodeURIComponent(sent)}`}>{sent}</Link>.
          </>
        ) : null}
      </p>
      {send.problem ? <ProblemNotice problem={send.problem} /> : null}
    </section>
  );
}

export function EventTypeDetail() {
  const { name = "" } = useParams();
  const type = useResource((api) => api.eventType.get(name), [name]);
  const endpoints = useResource((api, appId) => allEndpoints(api, appId), []);
  return (
    <>
      <BackLink to="/event-types">All event types</BackLink>
      <Loaded resource={type} what="the event type">
        {(data) => (
          <>
            <PageTitle>{data.name}</PageTitle>
            <dl className="facts">
              <dt>Description</dt>
              <dd>{data.description || "—"}</dd>
              <dt>Group</dt>
              <dd>{data.groupName || "—"}</dd>
              {data.deprecated ? (
                <>
                  <dt>Status</dt>
                  <dd>
                    <span className="badge badge-deprecated">Deprecated</span>
                  </dd>
                </>
              ) : null}
            </dl>
            <div className="panels">
              <Schema type={data} />
              <Loaded resource={endpoints} what="endpoints">
                {(list) => (
                  <>
                    <Subscribe type={data} endpoints={list} onChanged={endpoints.reload} />
                    <Can capability="CreateAttempts">
                      <SendExample type={data} endpoints={list} />
                    </Can>
                  </>
                )}
              </Loaded>
            </div>
          </>
        )}
      </Loaded>
    </>
  );
}
