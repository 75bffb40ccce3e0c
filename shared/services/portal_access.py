"""App portal access: a link for one of a tenant's customers to its own application, and revoking it.

The link is the portal's address with the token in its fragment (`#token=...`): browsers send no
fragment to any server, so it appears in no request line, access log or `Referer`.
"""

from __future__ import annotations

from shared.auth import Principal
from shared.errors import ForbiddenError, NotFoundError, ValidationFailedError
from shared.models import (
    ApplicationIn,
    ApplicationTokenExpireIn,
    AppPortalAccessIn,
    AppPortalAccessOut,
    path_identifier,
)
from shared.portal_tokens import DEFAULT_EXPIRY_SECONDS, PortalTokens, granted_capabilities
from shared.scopes import Capability
from shared.services.applications import ApplicationService
from shared.store.schema import ApplicationDoc

# Where the Function App serves the portal (blueprints/portal.py).
PORTAL_PATH = "/api/portal/"


class PortalAccessService:
    def __init__(self, applications: ApplicationService, tokens: PortalTokens) -> None:
        self._applications = applications
        self._tokens = tokens

    async def issue(
        self, tenant_id: str, id_or_uid: str, data: AppPortalAccessIn, *, base_url: str, seed: str | None
    ) -> AppPortalAccessOut:
        """A token and link for the application the path names, created from `data.application`
        when there is none (as Svix's get-or-create).

        :raises NotFoundError: no such application, and none to create.
        :raises ValidationFailedError: `application.uid` is not the uid the path names.
        :raises ConfigurationError: no signing key is configured.
        :raises ServiceUnavailableError: the store or the key vault does not answer.
        """
        app = await self._application(tenant_id, id_or_uid, data.application, seed)
        capabilities = granted_capabilities(
            [str(capability) for capability in data.capabilities] if data.capabilities is not None else None,
            read_only=bool(data.read_only),
        )
        token = await self._tokens.issue(
            tenant_id,
            str(app["id"]),
            capabilities,
            session_id=data.session_id,
            expiry_seconds=data.expiry or DEFAULT_EXPIRY_SECONDS,
        )
        return AppPortalAccessOut(url=f"{base_url}{PORTAL_PATH}#token={token}", token=token)

    async def _application(
        self, tenant_id: str, id_or_uid: str, application: ApplicationIn | None, seed: str | None
    ) -> ApplicationDoc:
        found = await self._applications.find(tenant_id, id_or_uid)
        if found is not None:
            return found
        if application is None:
            raise NotFoundError("Application not found.")
        if application.uid is not None and application.uid != id_or_uid:
            raise ValidationFailedError.single(
                ["body", "application", "uid"], "must be the uid the path names (or left out)"
            )
        # The path's value becomes the new application's uid, held to the rules of a body's uid.
        data = application.model_copy(update={"uid": path_identifier(id_or_uid, loc=["path", "app_id"])})
        doc, _ = await self._applications.create(tenant_id, data, get_if_exists=True, seed=seed)
        return doc

    async def expire_all(self, tenant_id: str, id_or_uid: str, data: ApplicationTokenExpireIn) -> None:
        """Revokes the application's portal tokens (of `session_ids` only, when some are given)
        once `expiry` seconds have passed.

        :raises NotFoundError: no such application.
        :raises ServiceUnavailableError: the store does not answer.
        """
        app = await self._applications.get(tenant_id, id_or_uid)
        await self._tokens.expire_all(
            tenant_id,
            str(app["id"]),
            session_ids=frozenset(data.session_ids) if data.session_ids else None,
            grace_seconds=data.expiry or 0,
        )

    async def log_out(self, principal: Principal) -> None:
        """Revokes the portal token the caller presented.

        :raises ForbiddenError: the caller's token is not a portal token (Svix: "trying to log out
            other tokens will fail").
        :raises ServiceUnavailableError: the store does not answer.
        """
        if principal.portal is None:
            raise ForbiddenError(
                "Only an app portal token can be logged out.", scope=Capability.VIEW_BASE.value
            )
        await self._tokens.log_out(principal)
