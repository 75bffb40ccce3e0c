/** One message: its payload, where it went, every attempt, and a resend per endpoint. */
import { useState } from "react";
import { Link, useParams } from "react-router";
import type { MessageAttemptOut, Svix } from "svix";

import {
  BackLink,
  DeliveryStatus,
  Loaded,
  PageTitle,
  ProblemNotice,
  TextBlock,
  Timestamp,
  prettyBody,
  prettyJson,
} from "../../shell/components";
import { Can, usePortal } from "../../shell/context";
import { readAll } from "../../shell/paging";
import { useAction, useResource } from "../../shell/useResource";

// A message's attempts are few (the retry schedule bounds them per endpoint): read them all.
const ATTEMPT_PAGE = 250;
const MAX_ATTEMPT_PAGES = 4;

function allAttempts(api: Svix, appId: string, msgId: string): Promise<MessageAttemptOut[]> {
  return readAll(
    (iterator) => api.messageAttempt.listByMsg(appId, msgId, { limit: ATTEMPT_PAGE, iterator, withContent: true }),
    MAX_ATTEMPT_PAGES,
  );
}

function Destinations({ msgId, refresh, onResent }: { msgId: string; refresh: number; onResent: () => void }) {
  const { api, session } = usePortal();
  const destinations = useResource(
    (client, appId) => client.messageAttempt.listAttemptedDestinations(appId, msgId, { limit: 250 }),
    [msgId, refresh],
  );
  const resend = useAction();
  const [resent, setResent] = useState<string | null>(null);
  return (
    <section aria-labelledby="destinations-title" className="panel">
      <h2 id="destinations-title">Endpoints</h2>
      <Loaded resource={destinations} what="endpoints">
        {(page) =>
          page.data.length === 0 ? (
            <p className="muted">No endpoint was subscribed to this message.</p>
          ) : (
            <ul className="cards" aria-label="Endpoints of this message">
              {page.data.map((destination) => (
                <li key={destination.id} className="card">
                  <Link className="card-title break" to={`/endpoints/${encodeURIComponent(destination.id)}`}>
                    {destination.url}
                  </Link>
                  <p className="meta">
                    <DeliveryStatus status={destination.status} />
                    {destination.nextAttempt ? (
                      <span>
                        Next try <Timestamp value={destination.nextAttempt} />
                      </span>
                    ) : null}
                  </p>
                  <Can capability="CreateAttempts">
                    <button
                      type="button"
                      disabled={resend.pending}
                      aria-label={`Resend to ${destination.url}`}
                      onClick={async () => {
                        setResent(null);
                        const ok = await resend.run(async () => {
                          await api.messageAttempt.resend(session.appId, msgId, destination.id);
                        });
                        if (ok) {
                          setResent(destination.url);
                          onResent();
                        }
                      }}
                    >
                      Resend
                    </button>
                  </Can>
                </li>
              ))}
            </ul>
          )
        }
      </Loaded>
      <p role="status" className="muted">
        {resent ? `Resent to ${resent}.` : null}
      </p>
      {resend.problem ? <ProblemNotice problem={resend.problem} /> : null}
    </section>
  );
}

function Attempts({ msgId, refresh }: { msgId: string; refresh: number }) {
  const attempts = useResource((api, appId) => allAttempts(api, appId, msgId), [msgId, refresh]);
  return (
    <section aria-labelledby="attempts-title" className="panel">
      <h2 id="attempts-title">Attempts</h2>
      <Loaded resource={attempts} what="attempts">
        {(list) =>
          list.length === 0 ? (
            <p className="muted">No attempt yet.</p>
          ) : (
            <ol className="attempts" aria-label="Attempts, newest first">
              {list.map((attempt) => (
                <li key={attempt.id} className="attempt" data-testid="attempt">
                  <p className="meta">
                    <DeliveryStatus status={attempt.status} />
                    <span>
                      <span className="label">Code</span> {attempt.responseStatusCode || "none"}
                    </span>
                    <span>
                      <span className="label">Duration</span> {attempt.responseDurationMs} ms
                    </span>
                    <span>
                      <span className="label">Trigger</span> {attempt.triggerType === 1 ? "Manual" : "Scheduled"}
                    </span>
                    <Timestamp value={attempt.timestamp} />
                  </p>
                  <p className="break">
                    <Link to={`/endpoints/${encodeURIComponent(attempt.endpointId)}`}>{attempt.url}</Link>
                  </p>
                  <details>
                    <summary>Response body</summary>
                    <TextBlock label="Response body" text={attempt.response ? prettyBody(attempt.response) : "(empty)"} />
                  </details>
                </li>
              ))}
            </ol>
          )
        }
      </Loaded>
    </section>
  );
}

export function MessageDetail() {
  const { msgId = "" } = useParams();
  const message = useResource((api, appId) => api.message.get(appId, msgId, { withContent: true }), [msgId]);
  const [refresh, setRefresh] = useState(0);
  return (
    <>
      <BackLink to="/messages">All messages</BackLink>
      <Loaded resource={message} what="the message">
        {(data) => (
          <>
            <PageTitle>{data.eventType}</PageTitle>
            <dl className="facts">
              <dt>Message</dt>
              <dd>{data.id}</dd>
              {data.eventId ? (
                <>
                  <dt>Event id</dt>
                  <dd>{data.eventId}</dd>
                </>
              ) : null}
              <dt>Sent</dt>
              <dd>
                <Timestamp value={data.timestamp} />
              </dd>
            </dl>
            <div className="panels">
              <section aria-labelledby="payload-title" className="panel">
                <h2 id="payload-title">Payload</h2>
                <TextBlock label="Payload" text={prettyJson(data.payload)} />
              </section>
              <Destinations msgId={data.id} refresh={refresh} onResent={() => setRefresh(refresh + 1)} />
              <Attempts msgId={data.id} refresh={refresh} />
            </div>
          </>
        )}
      </Loaded>
    </>
  );
}
