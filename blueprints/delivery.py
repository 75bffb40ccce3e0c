"""Delivery: the background first attempts, the retry workflow, and the sweeper that finds lost work.

The workflow is deterministic: it waits on durable timers and makes every attempt through an
activity, whose result (stored in the history) says how long to wait next.
"""

import asyncio
import logging
from collections.abc import Generator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import azure.durable_functions as df
import azure.functions as func

from shared.lazy import lazy_module

if TYPE_CHECKING:
    from shared.services import delivery as delivery_module
    from shared.services import registry
else:
    delivery_module = lazy_module("shared.services.delivery")
    registry = lazy_module("shared.services.registry")

bp = df.Blueprint()
log = logging.getLogger("herald.delivery")

WORKFLOW = "delivery_retries_v1"
ATTEMPT_ACTIVITY = "delivery_attempt"
# A workflow in one of these states already owns its pair: starting another would duplicate it.
_LIVE = {"Pending", "Running", "ContinuedAsNew", "Suspended"}
# Background dispatches of this process, kept referenced until they finish.
_in_flight: set["asyncio.Task[None]"] = set()


# Named with a version: a changed workflow gets a new name, and the old one stays registered until
# its running instances have drained (see README, "Deploying").
@bp.function_name(WORKFLOW)
@bp.orchestration_trigger(context_name="context")
def delivery_retries(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    job: dict[str, Any] = context.get_input()  # type: ignore[assignment]
    wait = job["retry_in"]
    attempts = job["attempts"]
    status = "pending"
    while wait is not None:
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=wait))
        outcome = yield context.call_activity(ATTEMPT_ACTIVITY, {**job, "attempts": attempts})
        if outcome["attempted"]:
            attempts += 1
        status, wait = outcome["status"], outcome["retryIn"]
    return str(status)


@bp.function_name(ATTEMPT_ACTIVITY)
@bp.activity_trigger(input_name="job")
async def delivery_attempt(job: dict[str, Any]) -> dict[str, Any]:
    services = await registry.get_services()
    outcome = await services.delivery.attempt(delivery_module.RetryJob.from_input(job))
    return {"status": outcome.status.text, "retryIn": outcome.retry_in, "attempted": outcome.attempted}


@bp.function_name("delivery_sweeper")
@bp.timer_trigger(arg_name="timer", schedule="%HERALD_SWEEP_SCHEDULE%", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def delivery_sweeper(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    services = await registry.get_services()
    jobs = await services.delivery.stale_pairs()
    if jobs:
        log.warning("sweeper found %d message-endpoint pairs never attempted", len(jobs))
        await start_retries(client, jobs)
        await services.delivery.mark_swept(jobs)


async def start_retries(
    client: df.DurableOrchestrationClient, jobs: "list[delivery_module.RetryJob]"
) -> None:
    for job in jobs:
        existing = await client.get_status(job.instance_id)
        if existing and existing.runtime_status and existing.runtime_status.value in _LIVE:
            continue
        await client.start_new(WORKFLOW, job.instance_id, job.to_input())


async def dispatch(client: df.DurableOrchestrationClient, message: dict[str, Any]) -> None:
    """First attempts for a stored message, then retry workflows for the endpoints that failed."""
    services = await registry.get_services()
    try:
        jobs = await services.delivery.first_attempts(message)
        await start_retries(client, jobs)
    except Exception:
        # Nothing is lost: the sweeper finds pairs never attempted and sends them.
        log.exception("dispatch of %s failed; the sweeper will pick it up", message.get("id"))


def dispatch_in_background(client: df.DurableOrchestrationClient, message: dict[str, Any]) -> None:
    """Sends a just-accepted message without holding up the API's answer."""
    task = asyncio.get_running_loop().create_task(dispatch(client, message))
    _in_flight.add(task)
    task.add_done_callback(_in_flight.discard)
