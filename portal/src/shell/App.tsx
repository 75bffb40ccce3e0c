/** The shell: the session, the router over the page modules, and the session's end. */
import { useEffect, useMemo, useState } from "react";
import { createBrowserRouter, Navigate, RouterProvider, useRouteError } from "react-router";

import { createApi } from "./api";
import { PageTitle } from "./components";
import { PortalProvider } from "./context";
import { Layout } from "./Layout";
import type { PortalPage } from "./page";
import { startSession, type SessionProblem } from "./session";
import { setSessionEnded, useConnectionStatus } from "./status";

// The portal's path prefix ("/api/portal"), as Vite's `base` set it.
const BASENAME = import.meta.env.BASE_URL.replace(/\/+$/, "");
// setTimeout's longest delay (about 24.8 days); links last 7 days at most.
const MAX_TIMER_MS = 2 ** 31 - 1;

const PROBLEMS: Record<SessionProblem, { title: string; text: string }> = {
  missing: {
    title: "No access link",
    text: "Open this page from the link you were given; the link carries your access.",
  },
  malformed: { title: "This link is not valid", text: "Ask for a new one." },
  "no-app": {
    title: "This link names no application",
    text: "Ask for a new one. (Development with a tenant token: add &app=<application id> after the token.)",
  },
  expired: { title: "This link has expired", text: "Ask for a new one." },
};

export function SessionProblemView({ problem }: { problem: SessionProblem }) {
  const { title, text } = PROBLEMS[problem];
  return (
    <main id="main" className="session-problem" role="alert">
      <PageTitle>{title}</PageTitle>
      <p>{text}</p>
    </main>
  );
}

function NotFound() {
  return (
    <>
      <PageTitle>Page not found</PageTitle>
      <p>There is nothing at this address.</p>
    </>
  );
}

function RouteError() {
  const error = useRouteError();
  return (
    <main id="main" role="alert">
      <PageTitle>Something went wrong</PageTitle>
      <p>{error instanceof Error ? error.message : "Reload the page to try again."}</p>
    </main>
  );
}

export function App({ pages }: { pages: readonly PortalPage[] }) {
  const [started] = useState(startSession);
  const status = useConnectionStatus();
  const session = started.ok ? started.session : null;
  const api = useMemo(() => (session ? createApi(session) : null), [session]);

  // The page says the link expired when it does, not only at the next request.
  useEffect(() => {
    if (session?.expiresAt == null) {
      return;
    }
    const timer = window.setTimeout(setSessionEnded, Math.min(session.expiresAt - Date.now(), MAX_TIMER_MS));
    return () => window.clearTimeout(timer);
  }, [session]);

  const router = useMemo(() => {
    const first = pages.find((page) => page.nav)?.nav?.path ?? "/";
    return createBrowserRouter(
      [
        {
          path: "/",
          element: <Layout pages={pages} />,
          errorElement: <RouteError />,
          children: [
            { index: true, element: <Navigate to={first} replace /> },
            ...pages.flatMap((page) => page.routes),
            { path: "*", element: <NotFound /> },
          ],
        },
      ],
      { basename: BASENAME },
    );
  }, [pages]);

  if (!started.ok) {
    return <SessionProblemView problem={started.problem} />;
  }
  if (status.sessionEnded || session === null || api === null) {
    return <SessionProblemView problem="expired" />;
  }
  return (
    <PortalProvider value={{ session, api }}>
      <RouterProvider router={router} />
    </PortalProvider>
  );
}
