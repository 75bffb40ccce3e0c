"""An endpoint's health as its customer sees it (the portal): its circuit, and why it is disabled.

Read only when asked (GET .../endpoint/{endpoint_id}/health): one endpoint read and one breaker
read; nothing on the message path calls it.
"""

from __future__ import annotations

from shared.clock import from_wire
from shared.models import EndpointHealthOut
from shared.services.breaker import CircuitBreaker
from shared.services.endpoints import EndpointService


class EndpointHealthService:
    def __init__(self, endpoints: EndpointService, breaker: CircuitBreaker) -> None:
        self._endpoints = endpoints
        self._breaker = breaker

    async def health(self, tenant_id: str, app_id: str, id_or_uid: str) -> EndpointHealthOut:
        """:raises NotFoundError: no such endpoint in the application."""
        endpoint = await self._endpoints.get(tenant_id, app_id, id_or_uid)
        state = await self._breaker.state(endpoint)
        disabled = bool(endpoint.get("disabled"))
        return EndpointHealthOut(
            circuit=state.circuit,
            failures=state.failures,
            failing_since=state.failing_since,
            open_until=state.open_until,
            disabled=disabled,
            disabled_reason=endpoint.get("disabledReason") if disabled else None,
            disabled_at=from_wire(at) if disabled and (at := endpoint.get("disabledAt")) else None,
        )
