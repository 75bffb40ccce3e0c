"""The invocation's Durable client, adapted to the services' `WorkflowStarter`.

Each Durable client call costs the task hub Storage operations: each is counted and timed as a
store operation (container `durable`).
"""

from collections.abc import Mapping
from typing import Any

import azure.durable_functions as df

from shared import telemetry


class DurableWorkflows:
    """`shared.services.workflows.WorkflowStarter` over a Durable orchestration client."""

    def __init__(self, client: df.DurableOrchestrationClient) -> None:
        self._client = client

    async def start(self, name: str, instance_id: str, workflow_input: Mapping[str, Any]) -> None:
        with telemetry.store_operation("durable", "start_new"):
            await self._client.start_new(name, instance_id, dict(workflow_input))

    async def status(self, instance_id: str) -> str | None:
        with telemetry.store_operation("durable", "get_status"):
            existing = await self._client.get_status(instance_id)
        # A status of no instance (never started, or purged) is falsy.
        if not existing or existing.runtime_status is None:
            return None
        return str(existing.runtime_status.value)
