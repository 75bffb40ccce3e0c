/** What went wrong with a request, in words a customer can act on. */
import { ApiException } from "svix";

export type ProblemKind =
  | "expired"
  | "forbidden"
  | "not-found"
  | "rate-limited"
  | "invalid"
  | "conflict"
  | "unavailable"
  | "network";

export interface Problem {
  kind: ProblemKind;
  message: string;
}

interface ValidationItem {
  loc?: unknown;
  msg?: unknown;
}

function detailOf(body: unknown): string | null {
  if (typeof body !== "object" || body === null) {
    return null;
  }
  const detail = (body as { detail?: unknown }).detail;
  if (typeof detail === "string") {
    return detail;
  }
  if (Array.isArray(detail)) {
    return detail
      .map((item: ValidationItem) => {
        const where = Array.isArray(item.loc) ? item.loc.filter((part) => part !== "body").join(".") : "";
        const what = typeof item.msg === "string" ? item.msg : "is invalid";
        return where ? `${where}: ${what}` : what;
      })
      .join("; ");
  }
  return null;
}

export function describeError(error: unknown): Problem {
  if (error instanceof ApiException) {
    const detail = detailOf(error.body);
    switch (error.code) {
      case 401:
        return { kind: "expired", message: "This link has expired. Ask for a new one." };
      case 403:
        return { kind: "forbidden", message: "This link does not allow that." };
      case 404:
        return { kind: "not-found", message: detail ?? "Not found." };
      case 409:
        return { kind: "conflict", message: detail ?? "That conflicts with the current state; reload and retry." };
      case 429:
        return { kind: "rate-limited", message: "Too many requests. Wait a moment, then try again." };
      default:
        if (error.code >= 400 && error.code < 500) {
          return { kind: "invalid", message: detail ?? `The request was refused (${error.code}).` };
        }
        return { kind: "unavailable", message: "The service is unavailable right now. Try again shortly." };
    }
  }
  return { kind: "network", message: "The service could not be reached. Check the connection and try again." };
}
