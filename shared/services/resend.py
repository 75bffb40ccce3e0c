"""Manual resends: one attempt of a message to one of its endpoints, now, outside the retry schedule.

A manual attempt is exactly one request (Svix's resend), made by `DeliveryService.attempt_now`:
it starts no workflow and schedules nothing. A success makes the destination `success`; a failure
leaves a destination whose retries are still scheduled `pending` and makes any other `fail`.
Endpoint recovery (`recovery.py`) makes the same attempts, many at a time.
"""

from __future__ import annotations

from shared.delivery.lanes import Slot
from shared.errors import BadRequestError, NotFoundError
from shared.models import MessageStatus
from shared.services.delivery import DeliveryService
from shared.services.endpoints import EndpointService
from shared.services.messages import MessageService, payload_gone
from shared.store.schema import EndpointDoc, MessageDoc


def check_enabled(endpoint: EndpointDoc) -> None:
    if endpoint.get("disabled"):
        raise BadRequestError("The endpoint is disabled; enable it first.", code="endpoint_disabled")


def check_sendable(message: MessageDoc, endpoint: EndpointDoc) -> None:
    """Refuses what a manual attempt cannot do right: a disabled endpoint, a payload expunged or
    expired (`message` as `MessageService.get` reads it, with its content)."""
    check_enabled(endpoint)
    if payload_gone(message):
        raise BadRequestError(
            "The message's payload has been expunged or has expired.", code="payload_expunged"
        )


class ManualAttempts:
    """Makes one manual attempt (trigger `manual`) of a message to an endpoint."""

    def __init__(self, delivery: DeliveryService) -> None:
        self._delivery = delivery

    async def let_through(self, endpoint: EndpointDoc, *, throttle_wait: float) -> Slot:
        """Lets one request to `endpoint` through (see `DeliveryService.let_through`).

        :raises OutboundBusyError: it cannot go out now.
        """
        return await self._delivery.let_through(endpoint, throttle_wait=throttle_wait)

    async def attempt_now(
        self, message: MessageDoc, endpoint: EndpointDoc, *, slot: Slot | None = None
    ) -> MessageStatus:
        """One request, recorded as a manual attempt; returns the destination's status after it.

        :raises OutboundBusyError: (without `slot`) it cannot go out now; nothing was sent.
        """
        outcome = await self._delivery.attempt_now(message, endpoint, slot=slot)
        return outcome.status


class ResendService:
    def __init__(self, messages: MessageService, endpoints: EndpointService, manual: ManualAttempts) -> None:
        self._messages = messages
        self._endpoints = endpoints
        self._manual = manual

    async def resend(
        self, tenant_id: str, app_id_or_uid: str, msg_id: str, endpoint_id_or_uid: str
    ) -> MessageStatus:
        message = await self._messages.get(tenant_id, app_id_or_uid, msg_id)
        endpoint = await self._endpoints.get(tenant_id, message["appId"], endpoint_id_or_uid)
        if endpoint["id"] not in message.get("endpointIds", []):
            raise NotFoundError("The message was not sent to this endpoint.")
        check_sendable(message, endpoint)
        return await self._manual.attempt_now(message, endpoint)
