"""A sample Durable app for devhost's tests: one orchestrator per feature, HTTP functions as clients.

Activities that must be counted append a line to the file named by DURABLE_APP_LOG.
"""

import json
import os
import time
from collections.abc import Generator
from datetime import timedelta
from typing import Any, TypedDict

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

Orchestration = Generator[Any, Any, Any]


def _record(line: str) -> None:
    path = os.environ.get("DURABLE_APP_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(line + "\n")


def _input(context: df.DurableOrchestrationContext) -> Any:
    """get_input() is typed Optional; each orchestrator here knows what it is started with."""
    return context.get_input()


def _json(payload: object, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(payload), status_code=status, mimetype="application/json")


# Clients


@app.route(route="start/{name}/{instance_id?}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    instance_id = await client.start_new(
        req.route_params["name"],
        req.route_params.get("instance_id"),
        json.loads(body) if body else None,
    )
    return client.create_check_status_response(req, instance_id)


@app.route(route="status/{instance_id}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    found = await client.get_status(
        req.route_params["instance_id"], show_history=req.params.get("history") == "1"
    )
    if not found:
        return _json({"found": False}, status=404)
    return _json({**found.to_json(), "history": getattr(found, "historyEvents", None)})


@app.route(route="instances", methods=["GET"])
@app.durable_client_input(client_name="client")
async def instances(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    statuses = [df.OrchestrationRuntimeStatus(s) for s in req.params.get("status", "").split(",") if s]
    if "prefix" in req.params or statuses:
        found = await client.get_status_by(
            runtime_status=statuses, instance_id_prefix=req.params.get("prefix")
        )
    else:
        found = await client.get_status_all()
    return _json([item.to_json() for item in found])


@app.route(route="event/{instance_id}/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def event(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    await client.raise_event(req.route_params["instance_id"], req.route_params["name"], req.get_json())
    return _json({"raised": True}, status=202)


@app.route(route="manage/{operation}/{instance_id}", methods=["POST", "DELETE"])
@app.durable_client_input(client_name="client")
async def manage(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = req.route_params["instance_id"]
    operation = req.route_params["operation"]
    try:
        if operation == "terminate":
            await client.terminate(instance_id, "stopped by test")
        elif operation == "suspend":
            await client.suspend(instance_id, "paused by test")
        elif operation == "resume":
            await client.resume(instance_id, "resumed by test")
        elif operation == "purge":
            result = await client.purge_instance_history(instance_id)
            return _json({"deleted": result.instances_deleted})
        else:
            return _json({"error": f"unknown operation {operation}"}, status=400)
    except Exception as exc:
        return _json({"error": str(exc)}, status=409)
    return _json({"done": operation}, status=202)


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
@app.durable_client_input(client_name="client")
async def start_on_startup(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """A non-HTTP starter with a deterministic instance id, started once (if DURABLE_APP_TIMER_START)."""
    if os.environ.get("DURABLE_APP_TIMER_START") != "1":
        return
    if not await client.get_status("started-by-timer"):
        await client.start_new("sequence", "started-by-timer", ["timer"])


# Orchestrators


@app.orchestration_trigger(context_name="context")
def sequence(context: df.DurableOrchestrationContext) -> Orchestration:
    names = _input(context) or ["Tokyo", "Seattle", "London"]
    results = []
    for name in names:
        results.append((yield context.call_activity("hello", name)))
    return results


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext) -> Orchestration:
    count = _input(context)
    results = yield context.task_all([context.call_activity("square", n) for n in range(count)])
    return sum(results)


@app.orchestration_trigger(context_name="context")
def retries(context: df.DurableOrchestrationContext) -> Orchestration:
    """``flaky`` fails until its key has been tried ``fail_times`` times."""
    spec = _input(context)
    options = df.RetryOptions(
        first_retry_interval_in_milliseconds=spec["interval_ms"], max_number_of_attempts=spec["attempts"]
    )
    first = context.call_activity_with_retry(
        "flaky", options, {"key": spec["key"] + "-a", "fail_times": spec["fail_times"]}
    )
    second = context.call_activity_with_retry(
        "flaky", options, {"key": spec["key"] + "-b", "fail_times": spec["fail_times"]}
    )
    try:
        results = yield context.task_all([first, second])
    except Exception as exc:
        return {"failed": str(exc).splitlines()[0]}
    after = yield context.call_activity("hello", "after retries")
    return {"results": results, "after": after}


@app.orchestration_trigger(context_name="context")
def timer(context: df.DurableOrchestrationContext) -> Orchestration:
    seconds = _input(context)
    start_time = context.current_utc_datetime
    yield context.create_timer(start_time + timedelta(seconds=seconds))
    waited = (context.current_utc_datetime - start_time).total_seconds()
    return {"waited_at_least": waited >= seconds}


@app.orchestration_trigger(context_name="context")
def long_wait(context: df.DurableOrchestrationContext) -> Orchestration:
    """One durable timer of ``seconds``, which the SDK splits when it exceeds the short-timer limit."""
    seconds = _input(context)
    started = context.current_utc_datetime
    yield context.create_timer(started + timedelta(seconds=seconds))
    resumed = context.current_utc_datetime
    greeting = yield context.call_activity("hello", f"after {seconds} s")
    return {"started": started.isoformat(), "resumed": resumed.isoformat(), "greeting": greeting}


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext) -> Orchestration:
    """Waits for 'approve' or a timeout, then reports which came first."""
    # create_timer returns a TimerTask (which can be cancelled), typed as its base class.
    timeout: Any = context.create_timer(context.current_utc_datetime + timedelta(seconds=_input(context)))
    approved = context.wait_for_external_event("approve")
    context.set_custom_status("waiting for approval")
    winner = yield context.task_any([approved, timeout])
    if winner == approved:
        timeout.cancel()
        context.set_custom_status("approved")
        return {"approved_by": approved.result}
    context.set_custom_status("timed out")
    return {"approved_by": None}


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext) -> Orchestration:
    first = yield context.call_sub_orchestrator("child", {"n": 2}, f"{context.instance_id}-child")
    second = yield context.call_sub_orchestrator("child", {"n": 3})
    try:
        yield context.call_sub_orchestrator("failing")
    except Exception as exc:
        failure = str(exc).splitlines()[0]
    return {"children": [first, second], "failure": failure}


@app.orchestration_trigger(context_name="context")
def child(context: df.DurableOrchestrationContext) -> Orchestration:
    n = _input(context)["n"]
    squared = yield context.call_activity("square", n)
    return {"n": n, "squared": squared, "parent": context.parent_instance_id}


@app.orchestration_trigger(context_name="context")
def failing(context: df.DurableOrchestrationContext) -> Orchestration:
    yield context.call_activity("hello", "before failing")
    raise ValueError("orchestrator gave up")


@app.orchestration_trigger(context_name="context")
def activity_failure(context: df.DurableOrchestrationContext) -> Orchestration:
    try:
        yield context.call_activity("boom", "kaboom")
    except Exception as exc:
        return str(exc)
    return "no failure"


@app.orchestration_trigger(context_name="context")
def counter(context: df.DurableOrchestrationContext) -> Orchestration:
    state = _input(context)
    state["seen"].append(context.instance_id)
    if state["count"] < state["limit"]:
        yield context.call_activity("hello", f"round {state['count']}")
        context.continue_as_new({**state, "count": state["count"] + 1})
        return None
    return state


@app.orchestration_trigger(context_name="context")
def waiter(context: df.DurableOrchestrationContext) -> Orchestration:
    """Collects events named 'item' until one says 'stop'; for suspend, resume and terminate."""
    items: list[Any] = []
    while True:
        raised = yield context.wait_for_external_event("item")
        # Event data reaches the orchestrator as JSON text (the client encodes it twice).
        item = json.loads(raised)
        if item == "stop":
            return items
        items.append(item)
        context.set_custom_status({"items": items})


@app.orchestration_trigger(context_name="context")
def race(context: df.DurableOrchestrationContext) -> Orchestration:
    """A retried activity against an event; the test lets the failure and the event land together."""
    options = df.RetryOptions(first_retry_interval_in_milliseconds=60_000, max_number_of_attempts=2)
    attempt = context.call_activity_with_retry("gated", options, _input(context))
    go = context.wait_for_external_event("go")
    winner = yield context.task_any([attempt, go])
    greeting = yield context.call_activity("hello", "race")
    return {"winner": "event" if winner == go else "activity", "greeting": greeting}


@app.orchestration_trigger(context_name="context")
def throttled(context: df.DurableOrchestrationContext) -> Orchestration:
    yield context.task_all([context.call_activity("slow", n) for n in range(_input(context))])
    return "done"


@app.orchestration_trigger(context_name="context")
def pipeline(context: df.DurableOrchestrationContext) -> Orchestration:
    """Rounds of parallel slow activities, each followed by a durable timer (for the crash test)."""
    spec = _input(context)
    done = []
    for round_ in range(spec["rounds"]):
        context.set_custom_status(f"working {round_}")
        done += yield context.task_all(
            [context.call_activity("step", f"{round_}.{n}") for n in range(spec["width"])]
        )
        context.set_custom_status(f"waiting {round_}")
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=spec["pause_seconds"]))
    context.set_custom_status("finished")
    return done


@app.orchestration_trigger(context_name="context")
def introspect(context: df.DurableOrchestrationContext) -> Orchestration:
    return (yield context.call_activity("own_status", context.instance_id))


@app.orchestration_trigger(context_name="context", orchestration="Renamed")
def renamed_orchestrator(context: df.DurableOrchestrationContext) -> Orchestration:
    return (yield context.call_activity("Shout", _input(context)))


# Activities


@app.activity_trigger(input_name="name")
def hello(name: str) -> str:
    _record(f"hello {name}")
    return f"Hello {name}!"


@app.activity_trigger(input_name="n")
async def square(n: int) -> int:
    return n * n


class FlakySpec(TypedDict):
    key: str
    fail_times: int


@app.activity_trigger(input_name="spec")
def flaky(spec: FlakySpec) -> str:
    path = os.environ["DURABLE_APP_LOG"]
    _record(f"flaky {spec['key']}")
    with open(path, encoding="utf-8") as log:
        tries = sum(1 for line in log if line.strip() == f"flaky {spec['key']}")
    if tries <= spec["fail_times"]:
        raise RuntimeError(f"attempt {tries} of {spec['key']} failed")
    return f"{spec['key']} ok after {tries}"


@app.activity_trigger(input_name="message")
def boom(message: str) -> str:
    raise ValueError(message)


@app.activity_trigger(input_name="text", activity="Shout")
def shout_activity(text: str) -> str:
    return text.upper()


@app.activity_trigger(input_name="key")
def gated(key: str) -> str:
    """Fails once the test opens its gate (a file next to the log)."""
    gate = f"{os.environ['DURABLE_APP_LOG']}.{key}.open"
    deadline = time.monotonic() + 10
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.02)
    _record(f"gated {key}")
    raise RuntimeError(f"gate {key} failed")


@app.activity_trigger(input_name="n")
def slow(n: int) -> int:
    _record(f"slow start {n} {time.monotonic()}")
    time.sleep(0.2)
    _record(f"slow end {n} {time.monotonic()}")
    return n


@app.activity_trigger(input_name="name")
def step(name: str) -> str:
    _record(f"step start {name}")
    time.sleep(0.3)
    _record(f"step done {name}")
    return name


@app.activity_trigger(input_name="instanceId")
@app.durable_client_input(client_name="client")
async def own_status(instanceId: str, client: df.DurableOrchestrationClient) -> str:
    """An activity with a durable client: the binding is injected for any trigger."""
    status = await client.get_status(instanceId)
    assert status.runtime_status is not None
    return f"{status.instance_id} is {status.runtime_status.value}"
