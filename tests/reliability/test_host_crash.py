"""The host dies (SIGKILL) mid-stream with retries pending, and a new one starts on the same Durable
state file and port: every accepted message-endpoint pair still ends delivered or recorded as
failed, with at most 5 % duplicates (the requests in flight when it died are sent again)."""

from __future__ import annotations

import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from devhost.testing import free_port, run_devhost
from tests.support.emulators import PrivateAzurite
from tests.support.faults import (
    InboundQueue,
    Ledger,
    api_for,
    api_stream,
    scaled,
    settle_and_check,
    workflows,
)
from tests.support.receivers import Behaviour, Receiver
from tests.support.settings import ROOT
from tests.support.tokens import Minter

COUNT = scaled(40, 400)
RATE = scaled(8.0, 10.0)
SETTLE_SECONDS = scaled(45.0, 120.0)


def test_a_host_killed_mid_stream_and_restarted_on_its_state_loses_no_accepted_pair(
    restartable: dict[str, str], storage: PrivateAzurite, receiver: Receiver, mint: Minter, tmp_path: Path
) -> None:
    tenant = f"tenant-rel-{uuid.uuid4().hex[:8]}"
    port = free_port()
    # A flaky receiver: a third of the attempts fail, so retry workflows are pending at the kill.
    receiver.behave(Behaviour(fail_fraction=0.3))
    ledger = Ledger()
    with ExitStack() as stack:
        queue = InboundQueue(storage.connection_string)
        stack.callback(queue.close)
        api = stack.enter_context(api_for(f"http://127.0.0.1:{port}", mint(tenant)))
        with run_devhost(ROOT, port=port, env=restartable, log_path=tmp_path / "first.log") as first:
            app_id = api.create_app("crash")
            targets = [api.create_target(app_id, receiver, f"crash-{n}") for n in range(2)]
            streams = stack.enter_context(ExitStack())
            streams.enter_context(api_stream(api, app_id, ledger, count=COUNT, rate=RATE, prefix="posted"))
            streams.enter_context(
                queue.stream(tenant, app_id, ledger, count=COUNT // 4, rate=RATE / 4, prefix="queued")
            )
            time.sleep(COUNT / RATE / 3)
            pending = workflows(first.base_url)
            first.process.kill()
            first.process.wait(10)
        with run_devhost(ROOT, port=port, env=restartable, log_path=tmp_path / "second.log"):
            # The rest of the stream goes to the new host; then everything settles there.
            streams.close()
            report = settle_and_check("crash", api, app_id, targets, receiver, ledger, timeout=SETTLE_SECONDS)
    print(f"\nworkflows at the kill: {dict(pending)}; answers: {dict(ledger.statuses())}")
    assert pending["Running"] + pending["Pending"] > 0, "no retry was pending when the host died"
    assert set(report.answers) <= {"202", "ConnectError", "RemoteProtocolError", "ReadError"}
    report.assert_invariant(max_duplicate_ratio=0.05)


def test_a_host_killed_between_a_failed_first_attempt_and_its_retry_workflow_loses_no_pair(
    restartable: dict[str, str], receiver: Receiver, mint: Minter, tmp_path: Path
) -> None:
    tenant = f"tenant-rel-{uuid.uuid4().hex[:8]}"
    env = {
        **restartable,
        # The first failure already sends `message.attempt.failing`, in the window between the
        # first round's write and the start of the retry workflow; the slow operational endpoint
        # below holds that window open long enough to kill the host inside it.
        "HERALD_FAILING_EVENT_AFTER_ATTEMPTS": "1",
        "HERALD_DELIVERY_TIMEOUT_SECONDS": "10",
    }
    port = free_port()
    ledger = Ledger()
    with api_for(f"http://127.0.0.1:{port}", mint(tenant)) as api:
        with run_devhost(ROOT, port=port, env=env, log_path=tmp_path / "first.log") as first:
            app_id = api.create_app("window")
            target = api.create_target(app_id, receiver, "window")
            operational = api.http.post(
                "/api/v1/operational-webhook/endpoint",
                json={"url": receiver.url("operational"), "filterTypes": ["message.attempt.failing"]},
            )
            assert operational.status_code == 201, operational.text
            receiver.behave(Behaviour(status=500), path="window")
            receiver.behave(Behaviour(delay=5.0), path="operational")
            ledger.add(api.send(app_id, "window-0"))
            assert receiver.wait_for_arrival("operational", timeout=20), "no operational event was sent"
            first.process.kill()
            first.process.wait(10)
        receiver.healthy()
        with run_devhost(ROOT, port=port, env=env, log_path=tmp_path / "second.log"):
            report = settle_and_check("window", api, app_id, [target], receiver, ledger, timeout=30)
    assert report.answers == {"202": 1}
    report.assert_invariant(max_duplicate_ratio=0.0)
