"""An app devhost must refuse: it has a durable entity, which devhost does not serve."""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.entity_trigger(context_name="context")
def counter(context: df.DurableEntityContext) -> None:
    context.set_state((context.get_state(lambda: 0) or 0) + 1)


@app.route(route="fine")
def fine(req: func.HttpRequest) -> str:
    return "fine"
