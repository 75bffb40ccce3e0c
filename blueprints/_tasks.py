"""Background tasks a workflow runs in batches: recovery, replays, content purges, usage statistics.

Each task's workflow sends one batch per execution (an activity that returns its progress) and
continues as new until none is left, so its history stays short; a batch that fails after its
retries gives the task up as failed through a second activity. Only the service behind the two
activities differs: `register_workflow` registers the three functions of one task's workflow.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

import azure.durable_functions as df

if TYPE_CHECKING:
    from shared.services.registry import Services


class TaskBatches(Protocol):
    """A batched task's service, as its workflow's activities call it."""

    async def run_batch(self, job: Any) -> Any:
        """Works through the job's next batch; answers its progress (`done`, `cursor`, `retryIn`)."""
        ...

    async def fail(self, job: Any) -> None:
        """Records the task as failed."""
        ...


# A batch that fails (Cosmos busy, say) is tried again before the task is given up as failed.
BATCH_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=5000, max_number_of_attempts=3)


async def start_once(client: df.DurableOrchestrationClient, workflow: str, instance: str, job: Any) -> None:
    """Starts the task's workflow unless a retried request's first try started it already."""
    existing = await client.get_status(instance)
    if existing and existing.runtime_status:
        return
    await client.start_new(workflow, instance, job)


def run_in_batches(
    context: df.DurableOrchestrationContext, batch_activity: str, failed_activity: str
) -> Generator[Any, Any, str]:
    """One execution of a batched task's workflow; its orchestrator `yield from`s this."""
    job: dict[str, Any] = context.get_input()  # type: ignore[assignment]
    try:
        progress = yield context.call_activity_with_retry(batch_activity, BATCH_RETRY, job)
    except Exception:
        yield context.call_activity(failed_activity, job)
        return "failed"
    if progress["done"]:
        return "finished"
    if progress.get("retryIn"):
        # The batch was held back (throttle, outbound share): wait here, not in an activity.
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=progress["retryIn"]))
    context.continue_as_new({**job, "cursor": progress["cursor"]})
    return "continued"


def register_workflow(
    bp: df.Blueprint,
    workflow: str,
    batch_activity: str,
    failed_activity: str,
    service: Callable[[Services], TaskBatches],
) -> None:
    """Registers a batched task's workflow and its two activities on `bp`, under these names.

    `service` picks the task's service from the process's services, which the activities create on
    first use (not at registration: that would load the SDKs at every cold start).
    """

    @bp.function_name(workflow)
    @bp.orchestration_trigger(context_name="context")
    def orchestrator(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
        return (yield from run_in_batches(context, batch_activity, failed_activity))

    # `job` is the task's job of `shared.durable` (a TypedDict); the worker takes only a class or
    # `Any` as an activity's input annotation, not `dict[str, Any]`.
    @bp.function_name(batch_activity)
    @bp.activity_trigger(input_name="job")
    async def run_batch(job: Any) -> dict[str, Any]:
        from shared.services.registry import get_services

        progress: dict[str, Any] = await service(await get_services()).run_batch(job)
        return progress

    @bp.function_name(failed_activity)
    @bp.activity_trigger(input_name="job")
    async def fail(job: Any) -> None:
        from shared.services.registry import get_services

        await service(await get_services()).fail(job)
