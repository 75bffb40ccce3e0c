/**
 * A webhooks page of your own, built with `svix-react` against Herald: the same portal token the
 * app portal uses, the same Svix v1 API. Copy it into your front end and restyle it as you like.
 *
 * 1. Your backend asks Herald for a portal token of the customer's application (the token is
 *    scoped to that application and to the capabilities you ask for):
 *      POST /api/v1/auth/app-portal-access/{app_id}  ->  { url, token }
 *    (svix.authentication.appPortalAccess(appId, {...}) with any Svix SDK.)
 * 2. Your page gives `svix-react`'s <SvixProvider> that token, the application id, and Herald's
 *    address as `serverUrl` (without it the SDK would guess a Svix Cloud region from the token).
 * 3. The hooks (useEndpoints, useMessages, useEventTypes, ...) then read the customer's data.
 *
 * Here, so that the page runs on its own, the token comes in the address's fragment, as in the
 * portal's links (`/api/portal/examples/svix-react/index.html#token=...`), and the application id
 * from the token's `app` claim. Served by Herald beside the portal: open it with a token from
 * app-portal-access.
 */
import { StrictMode, type ReactNode } from "react";
import { createRoot } from "react-dom/client";
import { SvixProvider, useEndpoints, useEventTypes, useMessages, type SvixPaginatedData } from "svix-react";

import "./example.css";

function readLink(): { token: string; appId: string } | null {
  const token = new URLSearchParams(window.location.hash.slice(1)).get("token");
  if (!token) {
    return null;
  }
  // Out of the address bar at once: the token would travel in a copied link.
  window.history.replaceState(null, "", window.location.pathname);
  try {
    const payload = token.split(".")[1] ?? "";
    const claims: unknown = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
    const app = typeof claims === "object" && claims !== null ? (claims as { app?: unknown }).app : undefined;
    return typeof app === "string" ? { token, appId: app } : null;
  } catch {
    return null;
  }
}

function Paged<T>({ title, list, item }: { title: string; list: SvixPaginatedData<T>; item: (value: T) => ReactNode }) {
  return (
    <section aria-label={title}>
      <h2>{title}</h2>
      {list.error ? <p role="alert">Could not load: {list.error.message}</p> : null}
      {list.loading ? <p role="status">Loading…</p> : null}
      {list.data && list.data.length === 0 ? <p>None yet.</p> : null}
      <ul>{list.data?.map(item)}</ul>
      <button type="button" disabled={!list.hasPrevPage} onClick={list.prevPage}>
        Previous
      </button>{" "}
      <button type="button" disabled={!list.hasNextPage} onClick={list.nextPage}>
        Next
      </button>
    </section>
  );
}

function Endpoints() {
  const endpoints = useEndpoints({ limit: 20 });
  return (
    <Paged
      title="Endpoints"
      list={endpoints}
      item={(endpoint) => (
        <li key={endpoint.id}>
          {endpoint.url} {endpoint.disabled ? "(disabled)" : null}
        </li>
      )}
    />
  );
}

function Messages() {
  const messages = useMessages({ limit: 20 });
  return (
    <Paged
      title="Messages"
      list={messages}
      item={(message) => (
        <li key={message.id}>
          {message.eventType}: {message.eventId ?? message.id} ({message.timestamp.toLocaleString()})
        </li>
      )}
    />
  );
}

function EventTypes() {
  const types = useEventTypes({ limit: 50 });
  return (
    <Paged
      title="Event types"
      list={types}
      item={(type) => (
        <li key={type.name}>
          <strong>{type.name}</strong> {type.description}
        </li>
      )}
    />
  );
}

// Read once, before the first render takes the token out of the address.
const link = readLink();

function Page() {
  if (link === null) {
    return <p role="alert">Open this page with a portal token: …/index.html#token=&lt;token&gt;.</p>;
  }
  return (
    <SvixProvider token={link.token} appId={link.appId} options={{ serverUrl: window.location.origin }}>
      <h1>Webhooks</h1>
      <Endpoints />
      <Messages />
      <EventTypes />
    </SvixProvider>
  );
}

const root = document.getElementById("root");
if (root !== null) {
  createRoot(root).render(
    <StrictMode>
      <Page />
    </StrictMode>,
  );
}
