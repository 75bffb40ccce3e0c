"""Environment export and import (Svix's `/environment/export` and `/import`): a tenant's configuration
as one JSON document, to move it between deployments.

The configuration is the tenant's event types and its `settings`. Settings are Svix's environment
settings, a JSON object. Those whose meaning is delivery behaviour (`SETTINGS_HERALD_DECIDES`) are
the deployment's in Herald, set by its `HERALD_` settings: an import may state them only as this
deployment behaves, anything else is refused (422) rather than stored and not applied, and they
are not stored. The others (the application portal's appearance, say) change nothing Herald does:
they are kept as given, one document per tenant, and exported again. Svix's connectors are a
cloud product Herald does not have: an import that brings any is refused.

Nothing is written before the whole import has been checked. An import adds and updates, never
deletes; its writes are independent, so one interrupted is completed by sending it again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.clock import to_wire, utcnow
from shared.errors import PreconditionFailedError, ValidationFailedError
from shared.models import EnvironmentIn, EnvironmentOut
from shared.services.event_types import EventTypeService, to_out
from shared.settings import HeraldSettings
from shared.store import queries
from shared.store.base import APPLICATIONS, DocumentExistsError, DocumentStore, EtagMismatchError
from shared.store.schema import (
    ENVIRONMENT_SETTINGS,
    ENVIRONMENT_SETTINGS_ID,
    ENVIRONMENT_SETTINGS_TYPE,
    EnvironmentSettingsDoc,
    etag,
    tenant_key,
)

Check = Callable[[Any, HeraldSettings], bool]

# Svix setting -> (whether a value is what this deployment does, what decides it in Herald).
SETTINGS_HERALD_DECIDES: dict[str, tuple[Check, str]] = {
    "retryPolicy": (
        lambda value, s: value == list(s.retry_schedule),
        "the retry schedule is the deployment's HERALD_RETRY_SCHEDULE",
    ),
    "enforceHttps": (
        lambda value, s: value is (not s.delivery_allow_http),
        "whether http:// endpoints are accepted is the deployment's HERALD_DELIVERY_ALLOW_HTTP",
    ),
    "whitelabelHeaders": (
        # Herald always signs with webhook-* headers; svix-* ones are sent besides when configured.
        lambda value, s: value is True or (value is False and s.delivery_svix_headers),
        "Herald sends webhook-* headers, and svix-* ones only with HERALD_DELIVERY_SVIX_HEADERS=true",
    ),
    "disableEndpointOnFailure": (
        lambda value, _: value is True,
        "Herald always disables an endpoint that has only failed for HERALD_AUTO_DISABLE_AFTER_SECONDS",
    ),
    "enableChannels": (lambda value, _: value is True, "Herald always routes messages by channel"),
    "readOnly": (lambda value, _: value is False, "Herald has no read-only mode"),
    "requireEndpointChannel": (lambda value, _: value is False, "Herald does not require endpoint channels"),
    "requireEndpointFilterTypes": (
        lambda value, _: value is False,
        "Herald does not require endpoint event-type filters",
    ),
    "wipeSuccessfulPayload": (
        lambda value, _: value is False,
        "Herald keeps payloads for their retention (payloadRetentionPeriod)",
    ),
    "enableTransformations": (lambda value, _: value is False, "Herald has no transformations"),
    "enableIntegrationManagement": (lambda value, _: value is False, "Herald has no integrations"),
    "enableMessageStream": (lambda value, _: value is False, "Herald has no message stream"),
}


class EnvironmentService:
    def __init__(self, store: DocumentStore, settings: HeraldSettings, event_types: EventTypeService) -> None:
        self._store = store
        self._settings = settings
        self._event_types = event_types

    async def export(self, tenant_id: str) -> EnvironmentOut:
        """Every event type (archived ones too, with their schemas) and the stored settings."""
        event_types = await self._event_types.list_all(tenant_id)
        stored = await self._read_settings(tenant_id)
        return EnvironmentOut(
            created_at=utcnow(),
            event_types=[to_out(doc) for doc in event_types],
            settings=dict(stored["settings"]) if stored else {},
            connectors=[],
        )

    async def import_(self, tenant_id: str, data: EnvironmentIn) -> None:
        """Adds and updates the event types and settings `data` brings.

        :raises ValidationFailedError: connectors, or a setting this deployment does otherwise.
        """
        if data.connectors:
            raise ValidationFailedError.single(
                ["body", "connectors"], "Herald has no connectors (a Svix cloud product): send none"
            )
        kept = self._settings_to_keep(data.settings or {})
        await self._event_types.put_many(tenant_id, data.event_types or [])
        if kept:
            await self._merge_settings(tenant_id, kept)

    def _settings_to_keep(self, given: dict[str, Any]) -> dict[str, Any]:
        errors = []
        kept: dict[str, Any] = {}
        for name, value in given.items():
            decided = SETTINGS_HERALD_DECIDES.get(name)
            if decided is None:
                kept[name] = value
                continue
            check, why = decided
            # null: not stated, as Svix reads it.
            if value is not None and not check(value, self._settings):
                errors.append(
                    {
                        "loc": ["body", "settings", name],
                        "msg": f"this deployment does otherwise: {why}",
                        "type": "value_error",
                    }
                )
        if errors:
            raise ValidationFailedError(errors)
        return kept

    async def stored_settings(self, tenant_id: str) -> dict[str, Any]:
        """The settings the tenant's imports stored (those Herald does not decide); {} when none."""
        stored = await self._read_settings(tenant_id)
        return dict(stored["settings"]) if stored else {}

    async def _read_settings(self, tenant_id: str) -> EnvironmentSettingsDoc | None:
        return await queries.read(
            self._store, ENVIRONMENT_SETTINGS, tenant_key(tenant_id), ENVIRONMENT_SETTINGS_ID
        )

    async def _merge_settings(self, tenant_id: str, kept: dict[str, Any]) -> None:
        current = await self._read_settings(tenant_id)
        now = to_wire(utcnow())
        if current is None:
            doc: EnvironmentSettingsDoc = {
                "id": ENVIRONMENT_SETTINGS_ID,
                "type": ENVIRONMENT_SETTINGS_TYPE,
                "tenantId": tenant_id,
                "settings": kept,
                "createdAt": now,
                "updatedAt": now,
            }
            try:
                await self._store.create(APPLICATIONS, doc)
                return
            except DocumentExistsError:
                raise PreconditionFailedError("The settings changed meanwhile; retry.") from None
        updated: EnvironmentSettingsDoc = {
            **current,
            "settings": {**current["settings"], **kept},
            "updatedAt": now,
        }
        try:
            await self._store.replace(APPLICATIONS, updated, etag=etag(current))
        except EtagMismatchError:
            raise PreconditionFailedError("The settings changed meanwhile; retry.") from None
