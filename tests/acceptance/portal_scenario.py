"""A tenant gives one customer the app portal, written once and run with each SDK generation (1.x, 2.x).

`test_app_portal_access.py` runs this file as a script in each SDK's own interpreter, as
`sdk_scenario.py` is run: `python portal_scenario.py <server_url> <tenant_token> <endpoint_url>`.
It prints one JSON object: what the tenant and the customer saw. The customer's client is the
official SDK given the portal token as its bearer token. It imports only the SDK and the standard
library; any unexpected SDK error ends it with a traceback.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable
from typing import Any

import svix
from svix.api import (
    ApplicationIn,
    ApplicationTokenExpireIn,
    AppPortalAccessIn,
    EndpointIn,
    EventTypeIn,
    MessageIn,
    Svix,
    SvixOptions,
)
from svix.exceptions import HttpError

GENERATION = int(svix.__version__.split(".")[0])


def _status(call: Callable[[], Any]) -> int:
    """The HTTP status of a call the customer should be refused; 200 when it was not."""
    try:
        call()
    except HttpError as exc:
        return int(exc.status_code)
    return 200


def main(server_url: str, tenant_token: str, endpoint_url: str) -> dict[str, Any]:
    options = SvixOptions(server_url=server_url)
    tenant = Svix(tenant_token, options)
    uid = f"portal-gen{GENERATION}-{uuid.uuid4().hex[:8]}"
    # Get-or-create: the application the path names is made from `application`.
    access = tenant.authentication.app_portal_access(
        uid, AppPortalAccessIn(application=ApplicationIn(name="Customer Co"), session_id="desk-1")
    )
    app = tenant.application.get(uid)
    other = tenant.application.create(ApplicationIn(name="Someone else"))
    endpoint = tenant.endpoint.create(app.id, EndpointIn(url=endpoint_url, description="theirs"))

    customer = Svix(access.token, options)
    seen = {
        "app": customer.application.get(uid).id,
        "endpoints": [e.id for e in customer.endpoint.list(app.id).data],
        "secret_matches": customer.endpoint.get_secret(app.id, endpoint.id).key
        == tenant.endpoint.get_secret(app.id, endpoint.id).key,
        "created": customer.endpoint.create(
            app.id, EndpointIn(url=endpoint_url, description="added")
        ).description,
        "event_types": isinstance(customer.event_type.list().data, list),
    }
    refused = {
        "other_app": _status(lambda: customer.endpoint.list(other.id)),
        "app_list": _status(lambda: customer.application.list()),
        "event_type_create": _status(
            lambda: customer.event_type.create(EventTypeIn(name=f"x.{uid}", description="no"))
        ),
        "message_create": _status(
            lambda: customer.message.create(app.id, MessageIn(event_type="a.b", payload={"n": 1}))
        ),
        "new_token": _status(lambda: customer.authentication.app_portal_access(app.id, AppPortalAccessIn())),
    }
    viewer = Svix(
        tenant.authentication.app_portal_access(
            app.id, AppPortalAccessIn(read_only=True, session_id="desk-2")
        ).token,
        options,
    )
    read_only = {
        "list": len(viewer.endpoint.list(app.id).data),
        "secret": _status(lambda: viewer.endpoint.get_secret(app.id, endpoint.id)),
        "create": _status(lambda: viewer.endpoint.create(app.id, EndpointIn(url=endpoint_url))),
    }
    # Expire the viewer's session only; the customer's token lives on until it logs itself out.
    tenant.authentication.expire_all(app.id, ApplicationTokenExpireIn(session_ids=["desk-2"]))
    expired = {
        "viewer": _status(lambda: viewer.endpoint.list(app.id)),
        "customer": _status(lambda: customer.endpoint.list(app.id)),
    }
    customer.authentication.logout()
    expired["customer_after_logout"] = _status(lambda: customer.endpoint.list(app.id))
    # A tenant's token is not a portal token to log out.
    expired["tenant_logout"] = _status(lambda: tenant.authentication.logout())
    tenant.application.delete(app.id)
    tenant.application.delete(other.id)
    return {
        "generation": GENERATION,
        "url": access.url,
        "token": access.token,
        "app_id": app.id,
        "seen": seen,
        "refused": refused,
        "read_only": read_only,
        "expired": expired,
    }


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
