/** A labelled choice of one of the application's endpoints. */
import type { EndpointOut } from "svix";

import { endpointLabel } from "./endpoints";
import "./parts.css";

export function EndpointSelect({
  id,
  label,
  endpoints,
  value,
  onChange,
  allowNone,
}: {
  id: string;
  label: string;
  endpoints: readonly EndpointOut[];
  value: string;
  onChange: (endpointId: string) => void;
  /** The text of an empty choice, when there may be none. */
  allowNone?: string;
}) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(event) => onChange(event.target.value)}>
        {allowNone !== undefined ? <option value="">{allowNone}</option> : null}
        {endpoints.map((endpoint) => (
          <option key={endpoint.id} value={endpoint.id}>
            {endpointLabel(endpoint)}
          </option>
        ))}
      </select>
    </div>
  );
}
