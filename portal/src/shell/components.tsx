/**
 * The small pieces every page uses. Everything a customer or a receiver wrote (payloads,
 * response bodies, URLs, descriptions) is rendered as text by React, never as markup.
 */
import { useEffect, useId, useRef, useState, type ReactNode } from "react";
import { Link } from "react-router";

import type { Problem } from "./errors";
import type { ListPage, Paging } from "./paging";
import type { Resource } from "./useResource";

export function PageTitle({ children }: { children: ReactNode }) {
  return (
    <h1 className="page-title" tabIndex={-1} data-page-title>
      {children}
    </h1>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status">
      Loading {what}…
    </p>
  );
}

export function ProblemNotice({ problem, onRetry }: { problem: Problem; onRetry?: () => void }) {
  return (
    <div className={`notice notice-${problem.kind}`} role="alert">
      <p>{problem.message}</p>
      {onRetry && problem.kind !== "expired" && problem.kind !== "forbidden" ? (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

/** Renders a resource: loading, its problem (with a retry), or its data. */
export function Loaded<T>({ resource, what, children }: { resource: Resource<T>; what: string; children: (data: T) => ReactNode }) {
  if (resource.state === "loading") {
    return <Loading what={what} />;
  }
  if (resource.state === "error") {
    return <ProblemNotice problem={resource.problem} onRetry={resource.reload} />;
  }
  return <>{children(resource.data)}</>;
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <section className="empty" aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

export function Timestamp({ value }: { value: Date | string | null | undefined }) {
  if (value === null || value === undefined) {
    return <span>—</span>;
  }
  const date = value instanceof Date ? value : new Date(value);
  return (
    <time dateTime={date.toISOString()} title={date.toISOString()}>
      {date.toLocaleString()}
    </time>
  );
}

/** A delivery status (Svix's MessageStatus: 0 success, 1 pending, 2 fail, 3 sending, 4 canceled). */
export function DeliveryStatus({ status }: { status: number }) {
  const names = ["Succeeded", "Pending", "Failed", "Sending", "Canceled"];
  const name = names[status] ?? "Unknown";
  return <span className={`badge badge-${name.toLowerCase()}`}>{name}</span>;
}

/** An attempt's outcome as table cells: its status, the response code (a dash without an answer), its duration. */
export function AttemptOutcomeCells({
  attempt,
}: {
  attempt: { status: number; responseStatusCode: number; responseDurationMs: number };
}) {
  return (
    <>
      <td>
        <DeliveryStatus status={attempt.status} />
      </td>
      <td>{attempt.responseStatusCode || "—"}</td>
      <td>{attempt.responseDurationMs} ms</td>
    </>
  );
}

/** Text as it is (pretty-printed when it is JSON), in a scrollable block. */
export function TextBlock({ text, label }: { text: string; label: string }) {
  return (
    <pre className="text-block" tabIndex={0} aria-label={label}>
      {text}
    </pre>
  );
}

export function prettyJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

export function prettyBody(body: string): string {
  try {
    return prettyJson(JSON.parse(body));
  } catch {
    return body;
  }
}

/** Pages of a Svix list: `iterator` for the next page, `prevIterator` for the previous one. */
export function Pager({
  onPrevious,
  onNext,
  label,
}: {
  onPrevious: (() => void) | null;
  onNext: (() => void) | null;
  label: string;
}) {
  if (onPrevious === null && onNext === null) {
    return null;
  }
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" onClick={onPrevious ?? undefined} disabled={onPrevious === null}>
        Previous page
      </button>
      <button type="button" onClick={onNext ?? undefined} disabled={onNext === null}>
        Next page
      </button>
    </nav>
  );
}

/**
 * A Svix list a page at a time: `empty` when the list itself has nothing (its first page is empty),
 * else the page's items and the pager.
 */
export function PagedList<T>({
  resource,
  paging,
  what,
  pagerLabel,
  empty,
  children,
}: {
  resource: Resource<ListPage<T>>;
  paging: Paging;
  what: string;
  pagerLabel: string;
  empty: ReactNode;
  children: (items: T[]) => ReactNode;
}) {
  return (
    <Loaded resource={resource} what={what}>
      {(page) =>
        page.data.length === 0 && paging.previous === null ? (
          empty
        ) : (
          <>
            {children(page.data)}
            <Pager label={pagerLabel} onPrevious={paging.previous} onNext={paging.next(page.iterator, page.done)} />
          </>
        )
      }
    </Loaded>
  );
}

/**
 * The box a wide table scrolls sideways in on a narrow screen. Given a `label` it is a named region
 * that takes focus, so that a keyboard can scroll it too.
 */
export function TableScroll({ label, children }: { label?: string; children: ReactNode }) {
  const region = label === undefined ? {} : { tabIndex: 0, role: "region", "aria-label": label };
  return (
    <div className="table-scroll" {...region}>
      {children}
    </div>
  );
}

/** A table under its column headings; its rows (`<tr>`s) are the children. */
export function Table({ columns, label, children }: { columns: readonly string[]; label?: string; children: ReactNode }) {
  return (
    <table aria-label={label}>
      <thead>
        <tr>
          {columns.map((column) => (
            <th key={column} scope="col">
              {column}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  );
}

/** A destructive action in two steps, without `window.confirm` (refused in sandboxed iframes). */
export function ConfirmButton({
  label,
  confirmLabel,
  question,
  onConfirm,
  pending,
}: {
  label: string;
  confirmLabel: string;
  question: string;
  onConfirm: () => void;
  pending: boolean;
}) {
  const [asking, setAsking] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const questionId = useId();
  useEffect(() => {
    if (asking) {
      confirmRef.current?.focus();
    }
  }, [asking]);
  if (!asking) {
    return (
      <button type="button" className="danger" onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <span className="confirm" role="group" aria-labelledby={questionId}>
      <span id={questionId}>{question}</span>
      <button ref={confirmRef} type="button" className="danger" onClick={onConfirm} disabled={pending}>
        {confirmLabel}
      </button>
      <button type="button" onClick={() => setAsking(false)} disabled={pending}>
        Cancel
      </button>
    </span>
  );
}

export function BackLink({ to, children }: { to: string; children: ReactNode }) {
  return (
    <p className="back">
      <Link to={to}>← {children}</Link>
    </p>
  );
}
