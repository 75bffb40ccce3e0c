/** Paging through a Svix list: a stack of iterators, so "Previous" returns to exactly that page. */
import { useCallback, useState } from "react";

export interface Paging {
  iterator: string | null;
  next: ((iterator: string | null, done: boolean) => (() => void) | null);
  previous: (() => void) | null;
  reset: () => void;
}

export function usePaging(): Paging {
  const [stack, setStack] = useState<(string | null)[]>([null]);
  const reset = useCallback(() => setStack([null]), []);
  return {
    iterator: stack[stack.length - 1] ?? null,
    next: (iterator, done) => (done || iterator === null ? null : () => setStack((s) => [...s, iterator])),
    previous: stack.length > 1 ? () => setStack((s) => s.slice(0, -1)) : null,
    reset,
  };
}
