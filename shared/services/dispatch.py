"""Dispatch: a stored message's first round, then a retry workflow for each destination it left pending.

The first round runs in the process that stored the message (after the API has answered; within
the invocation for the inbound queue): a success costs no workflow at all. What a crash or an
outage leaves behind, the sweeper finds (`shared/services/sweeper.py`), and `sweep` gives it
retry workflows the same way. Each retry workflow's attempt comes back here (`retry`), so the
workflows started and finished are counted in one place.

Workflows are started through a `WorkflowStarter`, the invocation's Durable client as the
blueprint adapts it: nothing here knows the Durable SDK.

One trace follows a message: the dispatch span is the parent of the first attempts, and its
`traceparent` travels in the workflow's input (beside the retry job) to each activity, whose span
is the parent of every later attempt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from shared import durable, telemetry
from shared.clock import from_wire
from shared.services.delivery import AttemptOutcome, DeliveryService, RetryJob
from shared.services.sweeper import Sweeper
from shared.services.workflows import LIVE, WorkflowStarter
from shared.store.schema import EndpointDoc, MessageDoc

log = logging.getLogger("herald.delivery")


class DispatchService:
    def __init__(self, delivery: DeliveryService, sweeper: Sweeper) -> None:
        self._delivery = delivery
        self._sweeper = sweeper
        # Background dispatches of this process, kept referenced until they finish.
        self._in_flight: set[asyncio.Task[None]] = set()

    async def dispatch(
        self, workflows: WorkflowStarter, message: MessageDoc, endpoints: Sequence[EndpointDoc] = ()
    ) -> None:
        """The first round of a stored message, then retry workflows for what it left pending.

        Never raises: nothing is lost when it fails, since the sweeper finds messages never sent,
        and pending destinations without a workflow, and gives them retry workflows.
        """
        with (
            telemetry.span(
                "herald.dispatch",
                tenant_id=message.get("tenantId"),
                app_id=message.get("appId"),
                msg_id=message.get("id"),
            ),
            # What the webhook hook needs for herald.dispatch.lag: these are first attempts.
            telemetry.bind(attempt=1, first_attempt_since=_epoch(message.get("timestamp"))),
        ):
            try:
                first = await self._delivery.first_round(message, endpoints)
                await self.start_retries(workflows, first.jobs)
                await self._delivery.after_first_round(message, first)
            except Exception:
                log.exception("dispatch of %s failed; the sweeper will pick it up", message.get("id"))

    def dispatch_in_background(
        self, workflows: WorkflowStarter, message: MessageDoc, endpoints: Sequence[EndpointDoc] = ()
    ) -> None:
        """Dispatches a just-accepted message without holding up the API's answer."""
        task = asyncio.get_running_loop().create_task(self.dispatch(workflows, message, endpoints))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def settle(self) -> None:
        """Waits until the background dispatches started so far (and any they start) have finished."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight))

    async def start_retries(self, workflows: WorkflowStarter, jobs: list[RetryJob]) -> list[RetryJob]:
        """Starts a retry workflow per job unless its destination already has a live one.

        A job that fails to start is logged and the others still start; the ones that did not start
        are returned. A destination left so stays pending, and the sweeper gives it a workflow once
        its next attempt is overdue.
        """
        not_started = []
        trace = telemetry.traceparent()
        for job in jobs:
            try:
                if await self._live(workflows, job):
                    continue
                workflow_input = {**job.to_input(), **({telemetry.TRACEPARENT: trace} if trace else {})}
                await workflows.start(durable.RETRY_WORKFLOW, job.instance_id, workflow_input)
            except Exception:
                # Most often a concurrent dispatch of the same destination won the start (the
                # instance id is per destination, so there is still exactly one workflow); else
                # the sweeper retries it.
                log.warning("retry workflow for endpoint %s not started", job.endpoint_id, exc_info=True)
                not_started.append(job)
                continue
            telemetry.record_retries_started()
            log.info(
                "retry workflow started",
                extra={"endpoint_id": job.endpoint_id, "attempts": job.attempts, "retry_in": job.retry_in},
            )
        return not_started

    async def retry(self, job: RetryJob, *, traceparent: str | None) -> AttemptOutcome:
        """One attempt of a retry workflow (its activity), in the trace `traceparent` names."""
        with telemetry.span(
            "herald.retry",
            parent=traceparent,
            tenant_id=job.tenant_id,
            app_id=job.app_id,
            msg_id=job.msg_id,
            endpoint_id=job.endpoint_id,
            attempt=job.attempts + 1,
        ):
            outcome = await self._delivery.attempt(job)
            if outcome.retry_in is None:
                # The workflow ends after this activity.
                telemetry.record_retry_finished(outcome.status.text)
                log.info("retry workflow finished", extra={"status": outcome.status.text})
        return outcome

    async def sweep(self, workflows: WorkflowStarter) -> None:
        """Gives retry workflows to what the sweeper finds: messages never sent, and pending
        destinations whose workflow is not live."""
        with telemetry.span("herald.sweep"):
            sweep = await self._sweeper.sweep()
            not_started = []
            if sweep.unsent:
                log.warning("sweeper found %d message-endpoint pairs never attempted", len(sweep.unsent))
                not_started = await self.start_retries(workflows, sweep.unsent)
            # A stranded destination whose workflow is live is only late; the others get a new one.
            stranded = [job for job in sweep.stranded if not await self._live(workflows, job)]
            if stranded:
                log.warning("sweeper found %d pending pairs without a retry workflow", len(stranded))
                # One that does not start now is still pending and overdue at the next sweep.
                await self.start_retries(workflows, await self._sweeper.resume(stranded))
            await self._sweeper.finish(sweep, not_started)

    @staticmethod
    async def _live(workflows: WorkflowStarter, job: RetryJob) -> bool:
        return await workflows.status(job.instance_id) in LIVE


def _epoch(timestamp: str | None) -> float | None:
    return from_wire(timestamp).timestamp() if timestamp else None
