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
}: {
  id: string;
  label: string;
  endpoints: readonly EndpointOut[];
  value: string;
  onChange: (endpointId: string) => void;
}) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(event) => onChange(event.target.value)}>
        {endpoints.map((endpoint) => (
          <option key={endpoint.id} value={endpoint.id}>
            {endpointLabel(endpoint)}
          </option>
        ))}
      </select>
    </div>
  );
}
