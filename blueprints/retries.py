"""Retry workflows: the workflow of one destination, its attempt activity, and the sweeper's timer.

The workflow is deterministic: it waits on durable timers and makes every attempt through an
activity, whose reply (stored in the history) says how long to wait next. The dispatch service
(`shared/services/dispatch.py`) starts the workflows, from a message's first round and from what
the sweeper finds, and makes each attempt.
"""

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from blueprints._workflows import DurableWorkflows
from shared.durable import ATTEMPT_ACTIVITY, RETRY_WORKFLOW, AttemptInput, AttemptReply, retry_input

bp = df.Blueprint()


# Named with a version: a changed workflow gets a new name, and the old one stays registered until
# its running instances have drained (see README, "Deploying").
@bp.function_name(RETRY_WORKFLOW)
@bp.orchestration_trigger(context_name="context")
def delivery_retries(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    job: dict[str, Any] = context.get_input()  # type: ignore[assignment]
    # An input recorded before workflow payloads were camelCase says `retry_in`: either shape is
    # read, and each step hands on the input as recorded (the activity reads both), so it replays.
    wait = retry_input(job)["retryIn"]
    attempts = job["attempts"]
    # Whether the wait is for a throttle token already reserved for the next attempt: waiting for
    # tokens happens here, on durable timers, never in an activity. (Inputs and replies written
    # before it lack the flag; without it every step is what it was, so running instances replay.)
    reserved = job.get("reserved", False)
    status = "pending"
    while wait is not None:
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=wait))
        step = {**job, "attempts": attempts, "reserved": reserved}
        reply = yield context.call_activity(ATTEMPT_ACTIVITY, step)
        if reply["attempted"]:
            attempts += 1
        reserved = reply.get("reserved", False)
        status, wait = reply["status"], reply["retryIn"]
    return str(status)


@bp.function_name(ATTEMPT_ACTIVITY)
@bp.activity_trigger(input_name="job")
async def delivery_attempt(job: AttemptInput) -> AttemptReply:
    # The services (and the SDKs they pull in) load with the first invocation, not at start.
    from shared.services.delivery import RetryJob
    from shared.services.registry import get_services

    services = await get_services()
    # The trace context rides beside the job in the workflow's input (older inputs lack it).
    outcome = await services.dispatch.retry(RetryJob.from_input(job), traceparent=job.get("traceparent"))
    return outcome.to_reply()


@bp.function_name("delivery_sweeper")
@bp.timer_trigger(arg_name="timer", schedule="%HERALD_SWEEP_SCHEDULE%", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def delivery_sweeper(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    from shared.services.registry import get_services

    services = await get_services()
    await services.dispatch.sweep(DurableWorkflows(client))
