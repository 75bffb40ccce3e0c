/** One endpoint: its settings, health, signing secret, custom headers and recent attempts. */
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import type { EndpointOut } from "svix";

import { EndpointActivity } from "../../charts/EndpointActivity";
import {
  BackLink,
  ConfirmButton,
  DeliveryStatus,
  Loaded,
  PageTitle,
  ProblemNotice,
  Table,
  TableScroll,
  Timestamp,
} from "../../shell/components";
import { Can, usePortal } from "../../shell/context";
import { getEndpointHealth, type EndpointHealth } from "../../shell/herald";
import { useAction, useResource } from "../../shell/useResource";
import { EndpointForm } from "./EndpointForm";

const REASONS: Record<NonNullable<EndpointHealth["disabledReason"]>, string> = {
  manual: "Disabled by hand.",
  failing: "Disabled automatically: every delivery failed for too long.",
  gone: "Disabled automatically: the receiver answered 410 Gone.",
};

function Health({ endpointId }: { endpointId: string }) {
  const { session } = usePortal();
  const health = useResource(() => getEndpointHealth(session, endpointId), [endpointId]);
  return (
    <section aria-labelledby="health-title" className="panel">
      <h2 id="health-title">Health</h2>
      <Loaded resource={health} what="health">
        {(state) => (
          <dl className="facts">
            <dt>Deliveries</dt>
            <dd data-testid="circuit">
              {state.circuit === "closed" && state.failures === 0 ? "Healthy" : null}
              {state.circuit === "closed" && state.failures > 0
                ? `Failing: ${state.failures} failed in a row`
                : null}
              {state.circuit === "open" ? (
                <>
                  Paused after {state.failures} failures in a row: new deliveries wait and retry
                  {state.openUntil ? (
                    <>
                      {" "}
                      (next try after <Timestamp value={state.openUntil} />)
                    </>
                  ) : null}
                </>
              ) : null}
              {state.circuit === "half-open" ? "Testing: one delivery is being tried" : null}
            </dd>
            {state.failingSince ? (
              <>
                <dt>Failing since</dt>
                <dd>
                  <Timestamp value={state.failingSince} />
                </dd>
              </>
            ) : null}
            <dt>Status</dt>
            <dd data-testid="disabled-state">
              {state.disabled ? (
                <>
                  <span className="badge badge-disabled">Disabled</span>{" "}
                  {state.disabledReason ? REASONS[state.disabledReason] : null}
                  {state.disabledAt ? (
                    <>
                      {" "}
                      (<Timestamp value={state.disabledAt} />)
                    </>
                  ) : null}
                </>
              ) : (
                <span className="badge badge-enabled">Enabled</span>
              )}
            </dd>
          </dl>
        )}
      </Loaded>
    </section>
  );
}

function Secret({ endpointId }: { endpointId: string }) {
  const { api, session } = usePortal();
  const [secret, setSecret] = useState<string | null>(null);
  const reveal = useAction();
  const rotate = useAction();
  return (
    <section aria-labelledby="secret-title" className="panel">
      <h2 id="secret-title">Signing secret</h2>
      <p className="hint">Verify each webhook's signature with this secret (Standard Webhooks).</p>
      {secret !== null ? (
        <p>
          <code className="secret" data-testid="secret">
            {secret}
          </code>{" "}
          <button type="button" onClick={() => setSecret(null)}>
            Hide
          </button>
        </p>
      ) : (
        <Can capability="ViewEndpointSecret">
          <button
            type="button"
            disabled={reveal.pending}
            onClick={() =>
              reveal.run(async () => setSecret((await api.endpoint.getSecret(session.appId, endpointId)).key))
            }
          >
            Reveal secret
          </button>
        </Can>
      )}
      <Can capability="ManageEndpointSecret">
        <ConfirmButton
          label="Rotate secret"
          confirmLabel="Rotate now"
          question="The current secret keeps signing for 24 hours. Rotate?"
          pending={rotate.pending}
          onConfirm={() =>
            rotate.run(async () => {
              await api.endpoint.rotateSecret(session.appId, endpointId, {});
              setSecret((await api.endpoint.getSecret(session.appId, endpointId)).key);
            })
          }
        />
      </Can>
      {reveal.problem ? <ProblemNotice problem={reveal.problem} /> : null}
      {rotate.problem ? <ProblemNotice problem={rotate.problem} /> : null}
    </section>
  );
}

function Headers({ endpointId }: { endpointId: string }) {
  const headers = useResource((api, appId) => api.endpoint.getHeaders(appId, endpointId), [endpointId]);
  return (
    <section aria-labelledby="headers-title" className="panel">
      <h2 id="headers-title">Custom headers</h2>
      <Loaded resource={headers} what="headers">
        {(data) =>
          Object.keys(data.headers).length + data.sensitive.length === 0 ? (
            <p className="muted">None.</p>
          ) : (
            <dl className="facts">
              {Object.entries(data.headers).map(([name, value]) => (
                <div key={name}>
                  <dt>{name}</dt>
                  <dd>{value}</dd>
                </div>
              ))}
              {data.sensitive.map((name) => (
                <div key={name}>
                  <dt>{name}</dt>
                  <dd aria-label="hidden value">••••••••</dd>
                </div>
              ))}
            </dl>
          )
        }
      </Loaded>
    </section>
  );
}

function RecentAttempts({ endpointId }: { endpointId: string }) {
  const attempts = useResource(
    (api, appId) => api.messageAttempt.listByEndpoint(appId, endpointId, { limit: 10 }),
    [endpointId],
  );
  return (
    <section aria-labelledby="attempts-title" className="panel">
      <h2 id="attempts-title">Recent attempts</h2>
      <Loaded resource={attempts} what="attempts">
        {(page) =>
          page.data.length === 0 ? (
            <p className="muted">No attempts yet.</p>
          ) : (
            <TableScroll>
              <Table columns={["Time", "Message", "Status", "Code"]}>
                {page.data.map((attempt) => (
                  <tr key={attempt.id}>
                    <td>
                      <Timestamp value={attempt.timestamp} />
                    </td>
                    <td>
                      <Link to={`/messages/${encodeURIComponent(attempt.msgId)}`}>{attempt.msgId}</Link>
                    </td>
                    <td>
                      <DeliveryStatus status={attempt.status} />
                    </td>
                    <td>{attempt.responseStatusCode || "—"}</td>
                  </tr>
                ))}
              </Table>
            </TableScroll>
          )
        }
      </Loaded>
      <p className="meta">
        <Link to={`/attempts?endpoint=${encodeURIComponent(endpointId)}`}>Every attempt, with filters</Link>
        <Can capability="CreateAttempts">
          <Link to={`/recovery?endpoint=${encodeURIComponent(endpointId)}`}>Recover or replay messages</Link>
        </Can>
      </p>
    </section>
  );
}

function Overview({ endpoint, onChanged }: { endpoint: EndpointOut; onChanged: () => void }) {
  const { api, session } = usePortal();
  const navigate = useNavigate();
  const toggle = useAction();
  const remove = useAction();
  return (
    <section aria-labelledby="overview-title" className="panel">
      <h2 id="overview-title" className="visually-hidden">
        Settings
      </h2>
      <dl className="facts">
        <dt>URL</dt>
        <dd className="break">{endpoint.url}</dd>
        <dt>Description</dt>
        <dd>{endpoint.description || "—"}</dd>
        <dt>Event types</dt>
        <dd>{endpoint.eventTypes?.length ? endpoint.eventTypes.join(", ") : "All"}</dd>
        <dt>Channels</dt>
        <dd>{endpoint.channels?.length ? endpoint.channels.join(", ") : "All"}</dd>
        <dt>Rate limit</dt>
        <dd>{endpoint.throttleRate ? `${endpoint.throttleRate} per second` : "None"}</dd>
        <dt>Created</dt>
        <dd>
          <Timestamp value={endpoint.createdAt} />
        </dd>
      </dl>
      <Can capability="ManageEndpoint">
        <div className="actions">
          <button type="button" onClick={() => navigate(`/endpoints/${encodeURIComponent(endpoint.id)}/edit`)}>
            Edit
          </button>
          <button
            type="button"
            disabled={toggle.pending}
            onClick={async () => {
              const ok = await toggle.run(async () => {
                await api.endpoint.patch(session.appId, endpoint.id, { disabled: !endpoint.disabled });
              });
              if (ok) {
                onChanged();
              }
            }}
          >
            {endpoint.disabled ? "Enable" : "Disable"}
          </button>
          <ConfirmButton
            label="Delete"
            confirmLabel="Delete endpoint"
            question="Delete this endpoint? It receives nothing more."
            pending={remove.pending}
            onConfirm={async () => {
              const ok = await remove.run(() => api.endpoint.delete(session.appId, endpoint.id));
              if (ok) {
                navigate("/endpoints");
              }
            }}
          />
        </div>
      </Can>
      {toggle.problem ? <ProblemNotice problem={toggle.problem} /> : null}
      {remove.problem ? <ProblemNotice problem={remove.problem} /> : null}
    </section>
  );
}

export function EndpointDetail() {
  const { endpointId = "" } = useParams();
  const endpoint = useResource((api, appId) => api.endpoint.get(appId, endpointId), [endpointId]);
  const [version, setVersion] = useState(0);
  return (
    <>
      <BackLink to="/endpoints">All endpoints</BackLink>
      <Loaded resource={endpoint} what="the endpoint">
        {(data) => (
          <>
            <PageTitle>
              <span className="break">{data.url}</span>
            </PageTitle>
            <div className="panels">
              <Overview
                endpoint={data}
                onChanged={() => {
                  endpoint.reload();
                  setVersion(version + 1);
                }}
              />
              <Health key={`health-${version}`} endpointId={data.id} />
              <Secret endpointId={data.id} />
              <Headers endpointId={data.id} />
              <RecentAttempts endpointId={data.id} />
              <EndpointActivity endpointId={data.id} />
            </div>
          </>
        )}
      </Loaded>
    </>
  );
}

export function EndpointEdit() {
  const { endpointId = "" } = useParams();
  const navigate = useNavigate();
  const loaded = useResource(
    async (api, appId) => {
      const [endpoint, headers] = await Promise.all([
        api.endpoint.get(appId, endpointId),
        api.endpoint.getHeaders(appId, endpointId),
      ]);
      return { endpoint, headers };
    },
    [endpointId],
  );
  const back = `/endpoints/${encodeURIComponent(endpointId)}`;
  return (
    <>
      <BackLink to={back}>The endpoint</BackLink>
      <PageTitle>Edit endpoint</PageTitle>
      <Loaded resource={loaded} what="the endpoint">
        {({ endpoint, headers }) => (
          <EndpointForm
            existing={endpoint}
            headers={headers}
            onSaved={() => navigate(back)}
            onCancel={() => navigate(back)}
          />
        )}
      </Loaded>
    </>
  );
}

export function EndpointCreate() {
  const navigate = useNavigate();
  return (
    <>
      <BackLink to="/endpoints">All endpoints</BackLink>
      <PageTitle>Add endpoint</PageTitle>
      <EndpointForm
        onSaved={(id) => navigate(`/endpoints/${encodeURIComponent(id)}`)}
        onCancel={() => navigate("/endpoints")}
      />
    </>
  );
}
