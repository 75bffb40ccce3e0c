"""Delivery: the background first attempts, the retry workflow, and the sweeper that finds lost work.

The workflow is deterministic: it waits on durable timers and makes every attempt through an
activity, whose result (stored in the history) says how long to wait next.

One trace follows a message: the dispatch span is the parent of the first attempts, and its
`traceparent` travels in the workflow's input (beside the RetryJob) to each activity, whose span
is the parent of every later attempt.
"""

import asyncio
import logging
from collections.abc import Generator, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import azure.durable_functions as df
import azure.functions as func

from shared import telemetry
from shared.clock import from_wire
from shared.durable import AttemptInput, AttemptReply
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
    # Whether the wait is for a throttle token already reserved for the next attempt: waiting for
    # tokens happens here, on durable timers, never in an activity. (Inputs and replies written
    # before it lack the flag; without it every step is what it was, so running instances replay.)
    reserved = job.get("reserved", False)
    status = "pending"
    while wait is not None:
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=wait))
        step = {**job, "attempts": attempts, "reserved": reserved}
        outcome = yield context.call_activity(ATTEMPT_ACTIVITY, step)
        if outcome["attempted"]:
            attempts += 1
        reserved = outcome.get("reserved", False)
        status, wait = outcome["status"], outcome["retryIn"]
    return str(status)


@bp.function_name(ATTEMPT_ACTIVITY)
@bp.activity_trigger(input_name="job")
async def delivery_attempt(job: AttemptInput) -> AttemptReply:
    # The trace context rides beside the RetryJob in the workflow's input (older inputs lack it).
    parent = job.get("traceparent")
    retry = delivery_module.RetryJob.from_input(job)
    with telemetry.span(
        "herald.retry",
        parent=parent,
        tenant_id=retry.tenant_id,
        app_id=retry.app_id,
        msg_id=retry.msg_id,
        endpoint_id=retry.endpoint_id,
        attempt=retry.attempts + 1,
    ):
        services = await registry.get_services()
        outcome = await services.delivery.attempt(retry)
        if outcome.retry_in is None:
            # The workflow ends after this activity.
            telemetry.record_retry_finished(outcome.status.text)
            log.info("retry workflow finished", extra={"status": outcome.status.text})
    reply = AttemptReply(status=outcome.status.text, retryIn=outcome.retry_in, attempted=outcome.attempted)
    if outcome.reserved:
        # Only then: every other reply is what it was before reservations existed.
        reply["reserved"] = True
    return reply


@bp.function_name("delivery_sweeper")
@bp.timer_trigger(arg_name="timer", schedule="%HERALD_SWEEP_SCHEDULE%", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def delivery_sweeper(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    with telemetry.span("herald.sweep"):
        services = await registry.get_services()
        sweep = await services.sweeper.sweep()
        not_started = []
        if sweep.unsent:
            log.warning("sweeper found %d message-endpoint pairs never attempted", len(sweep.unsent))
            not_started = await start_retries(client, sweep.unsent)
        # A stranded pair whose workflow is live is only late; the others get a new workflow.
        stranded = [job for job in sweep.stranded if not await _live(client, job.instance_id)]
        if stranded:
            log.warning("sweeper found %d pending pairs without a retry workflow", len(stranded))
            # One that does not start now is still pending and overdue at the next sweep.
            await start_retries(client, await services.sweeper.resume(stranded))
        await services.sweeper.finish(sweep, not_started)


async def _live(client: df.DurableOrchestrationClient, instance_id: str) -> bool:
    with telemetry.store_operation("durable", "get_status"):
        existing = await client.get_status(instance_id)
    return bool(existing and existing.runtime_status and existing.runtime_status.value in _LIVE)


async def start_retries(
    client: df.DurableOrchestrationClient, jobs: "list[delivery_module.RetryJob]"
) -> "list[delivery_module.RetryJob]":
    """Starts a retry workflow per job unless its pair already has a live one.

    A job that fails to start is logged and the others still start; the ones that did not start
    are returned. A pair left so stays pending, and the sweeper gives it a workflow once its next
    attempt is overdue.
    """
    not_started = []
    # Each Durable client call costs the task hub Storage operations: counted as store operations.
    trace = telemetry.traceparent()
    for job in jobs:
        try:
            if await _live(client, job.instance_id):
                continue
            workflow_input = {**job.to_input(), **({telemetry.TRACEPARENT: trace} if trace else {})}
            with telemetry.store_operation("durable", "start_new"):
                await client.start_new(WORKFLOW, job.instance_id, workflow_input)
        except Exception:
            # Most often a concurrent dispatch of the same pair won the start (the instance id
            # is per pair, so there is still exactly one workflow); else the sweeper retries it.
            log.warning("retry workflow for endpoint %s not started", job.endpoint_id, exc_info=True)
            not_started.append(job)
            continue
        telemetry.record_retries_started()
        log.info(
            "retry workflow started",
            extra={"endpoint_id": job.endpoint_id, "attempts": job.attempts, "retry_in": job.retry_in},
        )
    return not_started


async def dispatch(
    client: df.DurableOrchestrationClient, message: dict[str, Any], endpoints: Sequence[dict[str, Any]] = ()
) -> None:
    """First attempts for a stored message, then retry workflows for the endpoints that failed."""
    with (
        telemetry.span(
            "herald.dispatch",
            tenant_id=message.get("tenantId"),
            app_id=message.get("appId"),
            msg_id=message.get("id"),
        ),
        # What the delivery hook needs for herald.dispatch.lag: these are first attempts.
        telemetry.bind(attempt=1, first_attempt_since=_epoch(message.get("timestamp"))),
    ):
        services = await registry.get_services()
        try:
            first = await services.delivery.first_attempts(message, endpoints)
            await start_retries(client, first.jobs)
            await services.delivery.after_first_round(message, first)
        except Exception:
            # Nothing is lost: the sweeper finds messages never sent, and pending pairs without
            # a workflow, and gives them retry workflows.
            log.exception("dispatch of %s failed; the sweeper will pick it up", message.get("id"))


def _epoch(timestamp: str | None) -> float | None:
    return from_wire(timestamp).timestamp() if timestamp else None


def dispatch_in_background(
    client: df.DurableOrchestrationClient, message: dict[str, Any], endpoints: Sequence[dict[str, Any]] = ()
) -> None:
    """Sends a just-accepted message without holding up the API's answer."""
    task = asyncio.get_running_loop().create_task(dispatch(client, message, endpoints))
    _in_flight.add(task)
    task.add_done_callback(_in_flight.discard)
