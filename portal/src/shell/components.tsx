/**
 * The small pieces every page uses. Everything a customer or a receiver wrote (payloads,
 * response bodies, URLs, descriptions) is rendered as text by React, never as markup.
 */
import { useEffect, useId, useRef, useState, type ReactNode } from "react";
import { Link } from "react-router";

import type { Problem } from "./errors";
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
