"""Azure Storage (a private Azurite) paused mid-stream while messages arrive through the inbound
queue and the API at once.

Herald's Durable state is not in Storage here (devhost's engine keeps it in SQLite), so what a
Storage outage touches is the inbound queue: the producer's enqueues, and the host's polling,
leases and deletes. Every message the queue accepted ends stored once and delivered; the API,
which needs no Storage, keeps accepting.
"""

from __future__ import annotations

import time
import uuid

from tests.support.emulators import PrivateAzurite
from tests.support.faults import (
    InboundQueue,
    Ledger,
    api_for,
    api_stream,
    assert_not_ready,
    readiness,
    scaled,
    settle_and_check,
)
from tests.support.hosts import serving_herald
from tests.support.receivers import Receiver
from tests.support.tokens import Minter

COUNT = scaled(30, 300)
RATE = scaled(12.0, 10.0)
OUTAGE_SECONDS = scaled(4.0, 20.0)
SETTLE_SECONDS = scaled(45.0, 120.0)


def test_a_paused_storage_loses_no_message_the_queue_accepted_and_never_stops_the_api(
    fault_settings: dict[str, str], storage: PrivateAzurite, receiver: Receiver, mint: Minter
) -> None:
    tenant = f"tenant-rel-{uuid.uuid4().hex[:8]}"
    queue = InboundQueue(storage.connection_string)
    try:
        with serving_herald(fault_settings) as url, api_for(url, mint(tenant)) as api:
            app_id = api.create_app("storage")
            targets = [api.create_target(app_id, receiver, f"storage-{n}") for n in range(2)]
            ledger = Ledger()
            with (
                queue.stream(tenant, app_id, ledger, count=COUNT, rate=RATE, prefix="queued"),
                api_stream(api, app_id, ledger, count=COUNT, rate=RATE, prefix="posted"),
            ):
                time.sleep(0.5)
                with storage.server.paused_for_a_while():
                    started = time.monotonic()
                    assert_not_ready(readiness(url), "storage")
                    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - started)))
            report = settle_and_check(
                "storage", api, app_id, targets, receiver, ledger, timeout=SETTLE_SECONDS
            )
    finally:
        queue.close()
    assert report.answers == {"202": COUNT}, "the API does not depend on Storage"
    assert ledger.queued, "the queue accepted nothing"
    print(f"\nqueue: {len(ledger.queued)} enqueued, {len(ledger.queue_refused)} refused during the outage")
    report.assert_invariant(max_duplicate_ratio=0.01)
