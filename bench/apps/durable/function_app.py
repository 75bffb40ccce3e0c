"""The Durable app bench/durable_throughput.py drives: a 5-activity sequence and a fan-out."""

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="start/{name}/{instance_id}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new(
        req.route_params["name"], req.route_params["instance_id"], req.get_json()
    )
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def sequence(context: df.DurableOrchestrationContext) -> Generator[Any, Any, list[int]]:
    results = []
    count: int = context.get_input() or 0
    for n in range(count):
        results.append((yield context.call_activity("work", n)))
    return results


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext) -> Generator[Any, Any, int]:
    count: int = context.get_input() or 0
    results = yield context.task_all([context.call_activity("work", n) for n in range(count)])
    return sum(results)


@app.activity_trigger(input_name="n")
async def work(n: int) -> int:
    return n + 1
