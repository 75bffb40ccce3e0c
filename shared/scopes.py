"""The permissions an access token can carry (delegated scopes or app roles).

Kept apart from `auth.py` so that registering routes does not import the token libraries.
"""

from enum import StrEnum


class Scope(StrEnum):
    READ = "herald.read"
    WRITE = "herald.write"
    ADMIN = "herald.admin"
    # The platform's own operations (GET /metrics): across tenants, so no tenant's token has it.
    OPERATOR = "herald.operator"


class Capability(StrEnum):
    """What an app portal token may do in its one application: Svix's `AppPortalCapability`.

    Svix's `ManageTransformations` is not here: Herald serves no transformations, so a request for
    it grants nothing (see `shared/portal_tokens.py`).
    """

    VIEW_BASE = "ViewBase"
    VIEW_ENDPOINT_SECRET = "ViewEndpointSecret"  # noqa: S105 (a capability, not a secret)
    MANAGE_ENDPOINT_SECRET = "ManageEndpointSecret"  # noqa: S105 (a capability, not a secret)
    CREATE_ATTEMPTS = "CreateAttempts"
    MANAGE_ENDPOINT = "ManageEndpoint"
