"""Example messages (Svix's `POST .../endpoint/{id}/send-example`): an event type's example, to one endpoint.

The example is a real message of the application (stored, listed, signed, retried and attempted like
any other) for that one endpoint only, whatever its event-type and channel filters say: the caller
asked for that endpoint to see it. Its payload is entry `exampleIndex` of the `examples` of the
event type's schema, read as Svix reads it (schema version "1"; else the highest version), or the
body's own `payload`. `svix.ping` needs no event type and sends `{"success": true}`, as in Svix.
"""

from __future__ import annotations

from typing import Any

from shared.errors import BadRequestError, ValidationFailedError
from shared.models import EventExampleIn, MessageIn
from shared.services.applications import ApplicationService
from shared.services.endpoints import EndpointService
from shared.services.event_types import EventTypeService
from shared.services.messages import Accepted, MessageService
from shared.services.resend import check_enabled

PING_EVENT_TYPE = "svix.ping"
PING_PAYLOAD = {"success": True}
# Svix reads the examples of this schema version.
SCHEMA_VERSION = "1"


def _schema(schemas: dict[str, Any]) -> Any:
    if SCHEMA_VERSION in schemas:
        return schemas[SCHEMA_VERSION]
    numbered = [version for version in schemas if version.isdigit()]
    return schemas[max(numbered, key=int)] if numbered else None


def _no_example(detail: str) -> BadRequestError:
    # Svix's code for an event type it cannot make an example of.
    return BadRequestError(detail, code="invalid_scheme")


class ExampleService:
    def __init__(
        self,
        applications: ApplicationService,
        endpoints: EndpointService,
        event_types: EventTypeService,
        messages: MessageService,
    ) -> None:
        self._apps = applications
        self._endpoints = endpoints
        self._event_types = event_types
        self._messages = messages

    async def send(
        self,
        tenant_id: str,
        app_id_or_uid: str,
        endpoint_id_or_uid: str,
        data: EventExampleIn,
        *,
        idempotency_key: str | None,
        fingerprint: str,
    ) -> Accepted:
        """Stores the example message for the endpoint (the caller dispatches it).

        :raises NotFoundError: no such application, endpoint or event type.
        :raises BadRequestError: the endpoint is disabled, or the schema has no usable example.
        :raises ValidationFailedError: `exampleIndex` beyond the schema's examples.
        """
        app = await self._apps.get(tenant_id, app_id_or_uid)
        endpoint = await self._endpoints.get(tenant_id, app["id"], endpoint_id_or_uid)
        check_enabled(endpoint)
        payload = data.payload if data.payload is not None else await self._example(tenant_id, data)
        return await self._messages.accept(
            tenant_id,
            app["id"],
            MessageIn(event_type=data.event_type, payload=payload),
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            only_to=endpoint,
        )

    async def _example(self, tenant_id: str, data: EventExampleIn) -> dict[str, Any]:
        if data.event_type == PING_EVENT_TYPE:
            return dict(PING_PAYLOAD)
        event_type = await self._event_types.get(tenant_id, data.event_type)
        schema = _schema(event_type.get("schemas") or {})
        examples = schema.get("examples") if isinstance(schema, dict) else None
        if not isinstance(examples, list) or not examples:
            raise _no_example("The event type's schema has no examples to send.")
        if data.example_index >= len(examples):
            raise ValidationFailedError.single(
                ["body", "exampleIndex"], f"the event type's schema has {len(examples)} examples"
            )
        example = examples[data.example_index]
        if not isinstance(example, dict):
            raise _no_example("The example is not a JSON object, so it cannot be a message payload.")
        return example
