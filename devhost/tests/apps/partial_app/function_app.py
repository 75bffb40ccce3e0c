"""A Durable Functions app with a trigger devhost does not serve, next to ones it does."""

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="hello", methods=["GET"])
def hello(req: func.HttpRequest) -> str:
    return "hello from an unprefixed route"


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")  # type: ignore[untyped-decorator]
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new(req.route_params["name"])
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")  # type: ignore[untyped-decorator]
def workflow(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    result: str = yield context.call_activity("shout", "hi")
    return result


@app.activity_trigger(input_name="text")  # type: ignore[untyped-decorator]
def shout(text: str) -> str:
    return text.upper()


@app.blob_trigger(arg_name="blob", path="uploads/{name}", connection="AzureWebJobsStorage")
def uploads(blob: func.InputStream) -> None:
    pass
