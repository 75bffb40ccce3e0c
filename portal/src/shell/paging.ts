/**
 * Reading a Svix list: whole (`readAll`), or a page at a time (`usePaging`: a stack of iterators, so
 * "Previous" returns to exactly that page).
 */
import { useCallback, useState } from "react";

/** One page of a Svix list (ListResponse...Out): `iterator` reads the next one. */
export interface ListPage<T> {
  data: T[];
  iterator: string | null;
  done: boolean;
}

/** Every item of a list that is read whole (a short one, or one to pick from), at most `maxPages` pages. */
export async function readAll<T>(readPage: (iterator: string | null) => Promise<ListPage<T>>, maxPages: number): Promise<T[]> {
  const items: T[] = [];
  let iterator: string | null = null;
  for (let page = 0; page < maxPages; page += 1) {
    const result = await readPage(iterator);
    items.push(...result.data);
    if (result.done || result.iterator === null) {
      break;
    }
    iterator = result.iterator;
  }
  return items;
}

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
