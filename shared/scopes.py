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
