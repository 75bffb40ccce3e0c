/** An event type, typed or picked from the catalogue (a message's type need not be in it). */
import { useResource } from "../shell/useResource";
import { allEventTypes } from "../pages/catalogue/EventTypeList";

export function EventTypeInput({
  id,
  value,
  onChange,
  placeholder,
}: {
  id: string;
  value: string;
  onChange: (value: string) => void;
  placeholder: string;
}) {
  const types = useResource((api) => allEventTypes(api), []);
  return (
    <div className="field">
      <label htmlFor={id}>Event type</label>
      <input
        id={id}
        list={`${id}-names`}
        value={value}
        placeholder={placeholder}
        autoComplete="off"
        onChange={(event) => onChange(event.target.value.trim())}
      />
      <datalist id={`${id}-names`}>
        {(types.state === "ready" ? types.data : []).map((type) => (
          <option key={type.name} value={type.name} />
        ))}
      </datalist>
    </div>
  );
}
