/** Loads what a page shows, with loading and error states; `reload` fetches it again. */
import { useCallback, useEffect, useRef, useState } from "react";
import type { Svix } from "svix";

import { usePortal } from "./context";
import { describeError, type Problem } from "./errors";

export type Resource<T> =
  | { state: "loading"; reload: () => void }
  | { state: "error"; problem: Problem; reload: () => void }
  | { state: "ready"; data: T; reload: () => void };

export function useResource<T>(load: (api: Svix, appId: string) => Promise<T>, deps: readonly unknown[]): Resource<T> {
  const { api, session } = usePortal();
  const [generation, setGeneration] = useState(0);
  const [result, setResult] = useState<
    { state: "loading" } | { state: "error"; problem: Problem } | { state: "ready"; data: T }
  >({ state: "loading" });
  const reload = useCallback(() => setGeneration((n) => n + 1), []);
  const shownGeneration = useRef(generation);

  useEffect(() => {
    let current = true;
    // A reload keeps what is shown until the fresh data arrives; anything else (another page,
    // other filters) must not show the old data meanwhile.
    const reloading = shownGeneration.current !== generation;
    shownGeneration.current = generation;
    setResult((previous) => (reloading && previous.state === "ready" ? previous : { state: "loading" }));
    load(api, session.appId).then(
      (data) => current && setResult({ state: "ready", data }),
      (error: unknown) => current && setResult({ state: "error", problem: describeError(error) }),
    );
    return () => {
      current = false;
    };
    // `load` is a new closure on every render; what it depends on is listed in `deps`.
  }, [api, session.appId, generation, ...deps]);

  return { ...result, reload } as Resource<T>;
}

/** Runs one action (a click): its pending state and its problem, for the button and the form. */
export function useAction() {
  const [pending, setPending] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const run = useCallback(async (action: () => Promise<void>): Promise<boolean> => {
    setPending(true);
    setProblem(null);
    try {
      await action();
      return true;
    } catch (error) {
      setProblem(describeError(error));
      return false;
    } finally {
      setPending(false);
    }
  }, []);
  return { pending, problem, run };
}
