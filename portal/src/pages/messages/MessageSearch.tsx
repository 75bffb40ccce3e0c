/** Finding one message by its id or by the `eventId` the SaaS gave it (Herald accepts either in the path). */
import { useId, useState, type FormEvent } from "react";
import { useNavigate } from "react-router";

import { ProblemNotice } from "../../shell/components";
import { usePortal } from "../../shell/context";
import { useAction } from "../../shell/useResource";

export function MessageSearch() {
  const { api, session } = usePortal();
  const navigate = useNavigate();
  const id = useId();
  const [value, setValue] = useState("");
  const find = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const wanted = value.trim();
    if (!wanted) {
      return;
    }
    await find.run(async () => {
      const message = await api.message.get(session.appId, wanted);
      navigate(`/messages/${encodeURIComponent(message.id)}`);
    });
  };
  return (
    <form className="filters" role="search" aria-label="Find a message" onSubmit={submit}>
      <div className="field">
        <label htmlFor={id}>Message id or event id</label>
        <input id={id} type="search" value={value} placeholder="msg_… or your event id" onChange={(event) => setValue(event.target.value)} />
      </div>
      <div className="actions">
        <button type="submit" disabled={find.pending}>
          Find
        </button>
      </div>
      {find.problem ? (
        <ProblemNotice
          problem={find.problem.kind === "not-found" ? { kind: "not-found", message: `No message has the id or event id “${value.trim()}”.` } : find.problem}
        />
      ) : null}
    </form>
  );
}
