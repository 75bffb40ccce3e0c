/** The application's endpoints, with what each receives and whether it is enabled. */
import { Link, useNavigate } from "react-router";

import { EmptyState, PageTitle, PagedList } from "../../shell/components";
import { Can, useCan } from "../../shell/context";
import { usePaging } from "../../shell/paging";
import { useResource } from "../../shell/useResource";

const PAGE_SIZE = 50;

export function EndpointList() {
  const paging = usePaging();
  const navigate = useNavigate();
  const canManage = useCan("ManageEndpoint");
  const endpoints = useResource(
    (api, appId) => api.endpoint.list(appId, { limit: PAGE_SIZE, iterator: paging.iterator }),
    [paging.iterator],
  );
  return (
    <>
      <div className="title-row">
        <PageTitle>Endpoints</PageTitle>
        <Can capability="ManageEndpoint">
          <button type="button" className="primary" onClick={() => navigate("/endpoints/new")}>
            Add endpoint
          </button>
        </Can>
      </div>
      <PagedList
        resource={endpoints}
        paging={paging}
        what="endpoints"
        pagerLabel="Endpoint pages"
        empty={
          <EmptyState title="No endpoints yet">
            {canManage ? (
              <p>
                Add an endpoint: the URL where you want to receive webhooks. Messages sent from then on are
                delivered to it. <Link to="/endpoints/new">Add your first endpoint</Link>.
              </p>
            ) : (
              <p>Nothing receives webhooks yet. Someone with access to manage endpoints can add one.</p>
            )}
          </EmptyState>
        }
      >
        {(shown) => (
          <ul className="cards" aria-label="Endpoints">
            {shown.map((endpoint) => (
              <li key={endpoint.id} className="card">
                <Link to={`/endpoints/${encodeURIComponent(endpoint.id)}`} className="card-title">
                  {endpoint.url}
                </Link>
                {endpoint.description ? <p className="muted">{endpoint.description}</p> : null}
                <p className="meta">
                  {endpoint.disabled ? (
                    <span className="badge badge-disabled">Disabled</span>
                  ) : (
                    <span className="badge badge-enabled">Enabled</span>
                  )}
                  <span>
                    {endpoint.eventTypes?.length ? endpoint.eventTypes.join(", ") : "All event types"}
                  </span>
                </p>
              </li>
            ))}
          </ul>
        )}
      </PagedList>
    </>
  );
}
