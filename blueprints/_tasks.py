"""Background tasks a workflow runs in batches: recovery, replays, content purges, usage statistics.

Each task's workflow sends one batch per execution (an activity that returns its progress) and
continues as new until none is left, so its history stays short; a batch that fails after its
retries gives the task up as failed through a second activity. Only the activities differ.
"""

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

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
