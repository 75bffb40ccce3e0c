/**
 * A list's filters kept in the address's query, so that a link or a reload shows the same list.
 * Each filter is one parameter; an empty one is left out of the address.
 */
import { useSearchParams } from "react-router";

export function useFilterParams<Name extends string>(names: readonly Name[]) {
  const [params, setParams] = useSearchParams();
  const filters = Object.fromEntries(names.map((name) => [name, params.get(name) ?? ""])) as Record<Name, string>;
  const setFilters = (next: Record<string, string>) =>
    setParams(Object.fromEntries(Object.entries(next).filter(([, value]) => value)));
  return { params, filters, setFilters };
}
