"""Workflows as the services see them: start one, ask after one. Nothing more.

The Durable client comes with each invocation that binds it, so a service gets a `WorkflowStarter`
per call; the blueprint adapts its client (`blueprints/_workflows.py`). Services never import the
Durable SDK: this interface is all they know of it, and a test can hand them any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

# Runtime statuses of an instance that still owns its work: starting another would duplicate it.
LIVE = frozenset({"Pending", "Running", "ContinuedAsNew", "Suspended"})


class WorkflowStarter(Protocol):
    async def start(self, name: str, instance_id: str, workflow_input: Mapping[str, Any]) -> None:
        """Starts the workflow `name` as `instance_id` with `workflow_input`.

        :raises Exception: the start failed (a concurrent start of the same instance won it, or
            the task hub could not be reached): the Durable client raises no narrower class.
        """
        ...

    async def status(self, instance_id: str) -> str | None:
        """The instance's runtime status (`Running`, `Completed`, ...); None when there is none.

        :raises Exception: the task hub could not be reached.
        """
        ...
