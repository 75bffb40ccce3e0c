"""The batched background-task workflows (recovery, content purge), replayed by the real Durable SDK
from hand-built histories.

Both run `blueprints/_tasks.run_in_batches`, so each test runs for each of them: fed the history
the Durable host would hold, the workflow must ask for the same next step, on every replay
(determinism).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.histories import ActionType, History, actions, durable_function

pytestmark = pytest.mark.offline

JOB = {"tenantId": "t1", "taskId": "qtask_1", "cursor": None}
AT = "2026-01-01T00:00:00.0000000Z"


@dataclass(frozen=True)
class Workflow:
    name: str
    batch_activity: str
    instance_id: str
    orchestrator: Any

    def started(self) -> History:
        return History(self.name, JOB, instance_id=self.instance_id, at=AT)

    def after_batch(self, result: dict[str, Any]) -> History:
        return self.started().activity_scheduled(self.batch_activity).episode().activity_completed(result)


@pytest.fixture(scope="module", params=["recovery", "purge"])
def workflow(request: pytest.FixtureRequest) -> Workflow:
    from blueprints import messages, recovery

    if request.param == "recovery":
        return Workflow(
            recovery.WORKFLOW,
            recovery.BATCH_ACTIVITY,
            "rcv~t1~qtask_1",
            durable_function(recovery.bp, recovery.WORKFLOW),
        )
    return Workflow(
        messages.PURGE_WORKFLOW,
        messages.PURGE_BATCH_ACTIVITY,
        "pur~t1~qtask_1",
        durable_function(messages.bp, messages.PURGE_WORKFLOW),
    )


def test_a_new_task_asks_for_its_first_batch_with_retries(workflow: Workflow) -> None:
    (call,) = actions(workflow.started().replay(workflow.orchestrator))
    assert (call["actionType"], call["functionName"]) == (
        ActionType.CALL_ACTIVITY_WITH_RETRY,
        workflow.batch_activity,
    )
    assert json.loads(call["input"]) == JOB
    assert call["retryOptions"]["maxNumberOfAttempts"] == 3


def test_a_batch_that_leaves_work_continues_as_new_from_its_cursor(workflow: Workflow) -> None:
    restart = actions(workflow.after_batch({"done": False, "cursor": "msg_9"}).replay(workflow.orchestrator))[
        -1
    ]
    assert restart["actionType"] == ActionType.CONTINUE_AS_NEW
    assert json.loads(restart["input"]) == {**JOB, "cursor": "msg_9"}


def test_the_last_batch_finishes_the_workflow(workflow: Workflow) -> None:
    reply = workflow.after_batch({"done": True, "cursor": "msg_9"}).replay(workflow.orchestrator)
    assert reply["isDone"] and reply["output"] == "finished"


def test_a_batch_held_back_waits_on_a_durable_timer_then_continues_from_its_cursor(
    workflow: Workflow,
) -> None:
    # The throttle or the tenant's outbound share held the rest of the batch: the workflow waits
    # here (its activity never sleeps), then goes on from where the batch stopped.
    history = workflow.after_batch({"done": False, "cursor": "msg_4", "retryIn": 30.0})
    (timer,) = actions(history.replay(workflow.orchestrator))[1:]
    assert timer["actionType"] == ActionType.CREATE_TIMER
    assert timer["fireAt"].startswith("2026-01-01T00:00:30")
    history.timer_created("2026-01-01T00:00:30.000000Z").episode().timer_fired()
    restart = actions(history.replay(workflow.orchestrator))[-1]
    assert restart["actionType"] == ActionType.CONTINUE_AS_NEW
    assert json.loads(restart["input"]) == {**JOB, "cursor": "msg_4"}
