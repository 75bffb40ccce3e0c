"""The application portal's configuration (GET /api/v1/app/{app_id}/portal-config): its theme, and
how far back its charts may look.

The theme is the tenant's appearance settings (Svix's environment settings, stored by an import)
over the deployment's HERALD_PORTAL_THEME, key by key; `shared.portal_theme` says which settings
count and which values are kept. One point read per portal page load.
"""

from __future__ import annotations

from shared.models import PortalConfigOut, PortalThemeOut
from shared.portal_theme import theme_of
from shared.services.environment import EnvironmentService
from shared.settings import HeraldSettings


class PortalConfigService:
    def __init__(self, environment: EnvironmentService, settings: HeraldSettings) -> None:
        self._environment = environment
        self._default = theme_of(settings.portal_theme)
        self._retention_days = settings.retention_days

    async def config(self, tenant_id: str) -> PortalConfigOut:
        """The configuration the tenant's portal applies (the caller checked the application)."""
        theme = {**self._default, **theme_of(await self._environment.stored_settings(tenant_id))}
        return PortalConfigOut(theme=PortalThemeOut(**theme), retention_days=self._retention_days)
