"""An app devhost must refuse: an HTTP function with an output binding devhost cannot serve."""

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="fine")
def fine(req: func.HttpRequest) -> str:
    return "fine"


@app.route(route="enqueue", methods=["POST"])
@app.queue_output(arg_name="outbox", queue_name="outbox", connection="AzureWebJobsStorage")
def enqueue(req: func.HttpRequest, outbox: func.Out[str]) -> str:
    outbox.set(req.get_body().decode())
    return "queued"
