"""The portal's theme: the deployment's HERALD_PORTAL_THEME under each tenant's own appearance
settings, key by key (against the Cosmos emulator).

Cost: under 0.1 s.
"""

from __future__ import annotations

from shared.models import EnvironmentIn
from shared.services.environment import EnvironmentService
from shared.services.event_types import EventTypeService
from shared.services.portal_config import PortalConfigService
from shared.settings import HeraldSettings
from shared.store.cosmos import CosmosStore

DEPLOYMENT = {
    "displayName": "Webhooks by Platform",
    "customColor": "#0a7",
    "customLogoUrl": "https://cdn.platform.example/logo.svg",
}


async def test_a_tenants_settings_win_over_the_deployments_theme_key_by_key(
    store: CosmosStore, settings: HeraldSettings, tenant: str
) -> None:
    themed = settings.model_copy(update={"portal_theme": DEPLOYMENT})
    environment = EnvironmentService(store, themed, EventTypeService(store))
    portal = PortalConfigService(environment, themed)

    untouched = await portal.config(tenant)
    assert untouched.theme.model_dump(exclude_none=True) == {
        "display_name": "Webhooks by Platform",
        "primary_color": "#0a7",
        "logo_url": "https://cdn.platform.example/logo.svg",
    }
    await environment.import_(
        tenant, EnvironmentIn(settings={"displayName": "Acme", "customFontFamily": "Inter, sans-serif"})
    )
    themed_by_tenant = await portal.config(tenant)
    assert themed_by_tenant.theme.model_dump(exclude_none=True) == {
        "display_name": "Acme",
        "primary_color": "#0a7",
        "logo_url": "https://cdn.platform.example/logo.svg",
        "font_family": "Inter, sans-serif",
    }
    assert themed_by_tenant.retention_days == themed.retention_days
