/** The frame around every page: skip link, header with the application and the sections, notices. */
import { useEffect, useRef, useState } from "react";
import { NavLink, Outlet, useLocation, useNavigationType } from "react-router";

import { Brand } from "../theme/Brand";
import { usePortal } from "./context";
import type { PortalPage } from "./page";
import { useConnectionStatus } from "./status";
import { useResource } from "./useResource";

function ThrottleNotice() {
  const { throttledUntil } = useConnectionStatus();
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (throttledUntil === null) {
      return;
    }
    const timer = window.setInterval(() => setNow(Date.now()), 250);
    return () => window.clearInterval(timer);
  }, [throttledUntil]);
  const seconds = throttledUntil === null ? 0 : Math.max(1, Math.ceil((throttledUntil - now) / 1000));
  return (
    <div className="throttle" role="status" aria-live="polite">
      {throttledUntil === null ? null : (
        <p className="notice notice-rate-limited">
          Too many requests right now: trying again in {seconds} s.
        </p>
      )}
    </div>
  );
}

function ApplicationName() {
  const application = useResource((api, appId) => api.application.get(appId), []);
  if (application.state !== "ready") {
    return null;
  }
  return <span className="app-name">{application.data.name}</span>;
}

export function Layout({ pages }: { pages: readonly PortalPage[] }) {
  const { session } = usePortal();
  const location = useLocation();
  const navigationType = useNavigationType();
  const mainRef = useRef<HTMLElement>(null);
  const firstRender = useRef(true);

  // After a navigation, focus moves to the new page's title, so keyboard and screen-reader users
  // start there (a client-side route change moves focus nowhere by itself). Not on the first
  // page, nor on a redirect (the link's `/` to the first section): the page just loaded.
  useEffect(() => {
    if (firstRender.current || navigationType === "REPLACE") {
      firstRender.current = false;
      return;
    }
    const title = mainRef.current?.querySelector<HTMLElement>("[data-page-title]");
    (title ?? mainRef.current)?.focus();
  }, [location.pathname, navigationType]);

  return (
    <div className="shell">
      <a
        className="skip-link"
        href="#main"
        onClick={(event) => {
          event.preventDefault();
          mainRef.current?.focus();
        }}
      >
        Skip to content
      </a>
      <header className="topbar">
        <div className="identity">
          <Brand />
          <ApplicationName />
          {session.readOnly ? <span className="badge badge-readonly">Read-only</span> : null}
        </div>
        <nav aria-label="Sections">
          <ul>
            {pages.flatMap((page) =>
              page.nav ? (
                <li key={page.nav.path}>
                  <NavLink to={page.nav.path}>{page.nav.label}</NavLink>
                </li>
              ) : [],
            )}
          </ul>
        </nav>
      </header>
      <ThrottleNotice />
      <main id="main" ref={mainRef} tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
