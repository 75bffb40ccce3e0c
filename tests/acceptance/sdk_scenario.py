"""A Svix user's core scenario, written once and run with each SDK generation (svix 1.x and 2.x).

Both generations import as `svix`, so `test_sdk_generations.py` runs this file as a script in each
SDK's own interpreter: `python sdk_scenario.py <server_url> <token> <receiver_url>`. Each run uses
its generation's own names (1.x: `filter_types`, `rate_limit`; 2.x: `event_types`,
`throttle_rate`) and prints one JSON object: what the user saw. It imports only the SDK and the
standard library, so it runs in either virtualenv; any SDK error ends it with a traceback.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Any

import svix
from svix.api import ApplicationIn, EndpointIn, EndpointPatch, MessageIn, Svix, SvixOptions

GENERATION = int(svix.__version__.split(".")[0])
EVENT_TYPES_NAME, RATE_NAME = (
    ("filter_types", "rate_limit") if GENERATION == 1 else ("event_types", "throttle_rate")
)


def _wait(check: Any, what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.05)


def main(server_url: str, token: str, receiver_url: str) -> dict[str, Any]:
    client = Svix(token, SvixOptions(server_url=server_url))
    uid = f"gen{GENERATION}-{uuid.uuid4().hex[:8]}"
    app = client.application.create(ApplicationIn(name=f"svix {svix.__version__}", uid=uid))
    fields: dict[str, Any] = {EVENT_TYPES_NAME: ["invoice.paid"], RATE_NAME: 50}
    created = client.endpoint.create(app.id, EndpointIn(url=receiver_url, uid=f"{uid}-ep", **fields))
    endpoint = client.endpoint.get(app.id, f"{uid}-ep")
    listed = client.endpoint.list(app.id).data
    secret = client.endpoint.get_secret(app.id, endpoint.id).key
    paid = client.message.create(app.id, MessageIn(event_type="invoice.paid", payload={"invoice": "in_1"}))
    voided = client.message.create(
        app.id, MessageIn(event_type="invoice.voided", payload={"invoice": "in_2"})
    )
    attempts = _wait(
        lambda: client.message_attempt.list_by_msg(app.id, paid.id).data, "the paid invoice was not attempted"
    )
    destinations = _wait(
        lambda: [
            d
            for d in client.message_attempt.list_attempted_destinations(app.id, paid.id).data
            if d.status_text == "success"
        ],
        "the paid invoice was not delivered",
    )
    # The filter held: the voided invoice went nowhere.
    voided_destinations = client.message_attempt.list_attempted_destinations(app.id, voided.id).data
    by_uid = client.application.get(uid).id
    patched = client.endpoint.patch(app.id, endpoint.id, EndpointPatch(description="patched"))
    client.endpoint.delete(app.id, endpoint.id)
    remaining = client.endpoint.list(app.id).data
    client.application.delete(app.id)
    return {
        "generation": GENERATION,
        "app_by_uid": by_uid == app.id,
        "created_id": created.id,
        "endpoint": {
            "id": endpoint.id,
            "event_types": getattr(endpoint, EVENT_TYPES_NAME),
            "rate": getattr(endpoint, RATE_NAME),
            "version": getattr(endpoint, "version", None),
        },
        "listed": [e.id for e in listed],
        "secret": secret,
        "paid": paid.id,
        "voided": voided.id,
        "voided_destinations": [d.id for d in voided_destinations],
        "attempts": [(a.endpoint_id, a.response_status_code, a.status_text) for a in attempts],
        "destinations": [(d.id, d.status_text, getattr(d, "version", None)) for d in destinations],
        "patched": {
            "description": patched.description,
            "event_types": getattr(patched, EVENT_TYPES_NAME),
            "rate": getattr(patched, RATE_NAME),
        },
        "remaining": [e.id for e in remaining],
    }


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
