"""Queue triggers: devhost polling real Azurite queues, with the Functions host's semantics.

The sample app's host.json: batchSize 4, newBatchThreshold 2, maxDequeueCount 3, visibilityTimeout
1 s, maxPollingInterval 0.5 s; the devhost lease is 2 s. Each host gets queues of its own.
"""

import base64
import contextlib
import itertools
import json
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import BinaryBase64EncodePolicy, QueueClient

from devhost.errors import StartupError
from devhost.invocation import Invoker
from devhost.loader import BindingSpec, FunctionSpec
from devhost.queues import QueueOptions, QueueTriggers, decode_body
from devhost.storage import AZURITE_CONNECTION_STRING, storage_connection_string
from devhost.testing import RunningDevhost, run_devhost
from devhost.worker import Worker

from .sample_apps import copy_app

LEASE_SECONDS = 2
VISIBILITY_TIMEOUT_SECONDS = 1.0
MAX_DEQUEUE_COUNT = 3
MAX_IN_FLIGHT = 4 + 2  # batchSize + newBatchThreshold
QUEUE_SETTINGS = ("RECORD_QUEUE", "FLAKY_QUEUE", "FAILING_QUEUE", "SLOW_QUEUE")


class Queues:
    """The queues one host polls, named uniquely, plus what its functions recorded."""

    def __init__(self, evidence_path: Path) -> None:
        suffix = uuid.uuid4().hex[:10]
        self.names = {
            setting: f"devhost-{setting.split('_')[0].lower()}-{suffix}" for setting in QUEUE_SETTINGS
        }
        self.evidence_path = evidence_path

    def env(self) -> dict[str, str]:
        return {
            **self.names,
            # The mapping to Azurite's well-known account is part of what is tested.
            "AzureWebJobsStorage": "UseDevelopmentStorage=true",
            "EVIDENCE_PATH": str(self.evidence_path),
            "DEVHOST_QUEUE_LEASE_SECONDS": str(LEASE_SECONDS),
        }

    def client(self, setting: str, *, base64_bytes: bool = False, poison: bool = False) -> QueueClient:
        name = self.names[setting] + ("-poison" if poison else "")
        policy = BinaryBase64EncodePolicy() if base64_bytes else None
        return QueueClient.from_connection_string(
            AZURITE_CONNECTION_STRING, name, message_encode_policy=policy
        )

    def send(self, setting: str, body: bytes) -> str:
        """Enqueue ``body`` base64-encoded, as the SDKs and the Functions host do by default."""
        with self.client(setting, base64_bytes=True) as queue:
            _create(queue)
            return str(queue.send_message(body).id)

    def send_text(self, setting: str, text: str) -> str:
        """Enqueue ``text`` exactly as given (no encoding)."""
        with self.client(setting) as queue:
            _create(queue)
            return str(queue.send_message(text).id)

    def records(self, message_id: str | None = None) -> list[dict[str, Any]]:
        if not self.evidence_path.exists():
            return []
        lines = self.evidence_path.read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in lines if line]
        return [r for r in records if message_id is None or r["id"] == message_id]

    def count(self, setting: str, *, poison: bool = False) -> int:
        """Messages in the queue, invisible ones included."""
        with self.client(setting, poison=poison) as queue:
            if not _exists(queue):
                return 0
            return int(queue.get_queue_properties().approximate_message_count or 0)

    def poison_texts(self, setting: str) -> list[str]:
        with self.client(setting, poison=True) as queue:
            return [str(m.content) for m in queue.peek_messages(max_messages=32)] if _exists(queue) else []

    def delete_all(self) -> None:
        for setting in QUEUE_SETTINGS:
            for poison in (False, True):
                with self.client(setting, poison=poison) as queue:
                    if _exists(queue):
                        queue.delete_queue()


def _create(queue: QueueClient) -> None:
    with contextlib.suppress(ResourceExistsError):
        queue.create_queue()


def _exists(queue: QueueClient) -> bool:
    try:
        queue.get_queue_properties()
    except Exception:
        return False
    return True


def wait_until(condition: Callable[[], Any], *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


def _start_host(app_dir: Path, queues: Queues, log_path: Path) -> Any:
    return run_devhost(app_dir, env=queues.env(), log_path=log_path)


@pytest.fixture(scope="module")
def queues(module_tmp: Path) -> Iterator[Queues]:
    queues = Queues(module_tmp / "evidence.jsonl")
    yield queues
    queues.delete_all()


@pytest.fixture(scope="module")
def host(module_tmp: Path, queues: Queues) -> Iterator[RunningDevhost]:
    app_dir = copy_app("queue_app", module_tmp)
    with _start_host(app_dir, queues, module_tmp / "host.log") as running:
        yield running


def test_a_message_is_delivered_as_the_workers_queue_message_and_deleted(host, queues):
    body = b"\x00\xff binary payload"
    message_id = queues.send("RECORD_QUEUE", body)

    (record,) = wait_until(lambda: queues.records(message_id), timeout=10, what="the message")

    assert base64.b64decode(record["body_b64"]) == body
    assert record["type"] == "QueueMessage"
    assert record["dequeue_count"] == 1
    assert record["has_pop_receipt"]
    for field in ("insertion_time", "expiration_time", "time_next_visible"):
        assert record[field].endswith("+00:00"), field
    assert record["thread"] == "MainThread"  # async functions run on the host's loop
    wait_until(lambda: queues.count("RECORD_QUEUE") == 0, timeout=5, what="the message to be deleted")
    line = f"Executed 'record' [queue] {queues.names['RECORD_QUEUE']} message {message_id} dequeue count 1"
    assert f"{line} (Succeeded" in host.log_text()


def test_a_message_that_is_not_base64_goes_to_the_poison_queue_unprocessed(host, queues):
    text = "not base64 at all!"
    message_id = queues.send_text("RECORD_QUEUE", text)

    wait_until(lambda: text in queues.poison_texts("RECORD_QUEUE"), timeout=10, what="the poison message")

    assert queues.records(message_id) == []
    assert queues.count("RECORD_QUEUE") == 0
    assert f"message {message_id} moved from {queues.names['RECORD_QUEUE']} to" in host.log_text()


def test_a_failed_message_is_retried_after_the_visibility_timeout_until_it_succeeds(host, queues):
    message_id = queues.send("FLAKY_QUEUE", b"flaky")

    wait_until(lambda: len(queues.records(message_id)) >= 3, timeout=15, what="three deliveries")
    wait_until(lambda: queues.count("FLAKY_QUEUE") == 0, timeout=5, what="the message to be deleted")

    runs = queues.records(message_id)
    assert [r["dequeue_count"] for r in runs] == [1, 2, 3]
    gaps = [later["at"] - earlier["at"] for earlier, later in itertools.pairwise(runs)]
    assert all(gap >= VISIBILITY_TIMEOUT_SECONDS - 0.1 for gap in gaps), gaps
    assert all(r["thread"].startswith("ThreadPoolExecutor") for r in runs)  # the runtime's sync pool
    log = host.log_text()
    assert log.count(f"message {message_id} dequeue count") == 3
    assert f"message {message_id} dequeue count 2 (Failed" in log
    assert f"message {message_id} dequeue count 3 (Succeeded" in log
    assert queues.poison_texts("FLAKY_QUEUE") == []


def test_a_message_failing_max_dequeue_count_times_moves_to_the_poison_queue(host, queues):
    message_id = queues.send("FAILING_QUEUE", b"poison me")

    wait_until(lambda: queues.poison_texts("FAILING_QUEUE"), timeout=15, what="the poison message")

    assert [r["dequeue_count"] for r in queues.records(message_id)] == list(range(1, MAX_DEQUEUE_COUNT + 1))
    # The stored text is moved unchanged, so it decodes as the original did.
    assert [base64.b64decode(text) for text in queues.poison_texts("FAILING_QUEUE")] == [b"poison me"]
    assert queues.count("FAILING_QUEUE") == 0
    log = host.log_text()
    assert "Exception while executing function: always_fails" in log
    name = queues.names["FAILING_QUEUE"]
    # Poisoned right after the last failure, not only when dequeued once more.
    assert f"message {message_id} moved from {name} to {name}-poison because it failed 3 time(s)" in log


def test_a_long_invocation_renews_its_lease_so_the_message_is_not_redelivered(host, queues):
    # One message in flight leaves the listener polling: an expired lease would be redelivered.
    message_id = queues.send("SLOW_QUEUE", json.dumps({"seconds": [LEASE_SECONDS * 1.5]}).encode())

    wait_until(
        lambda: any(r["event"] == "end" for r in queues.records(message_id)),
        timeout=LEASE_SECONDS * 1.5 + 10,
        what="the slow invocation to end",
    )
    wait_until(lambda: queues.count("SLOW_QUEUE") == 0, timeout=5, what="the message to be deleted")

    assert [(r["event"], r["dequeue_count"]) for r in queues.records(message_id)] == [
        ("start", 1),
        ("end", 1),
    ]


def test_at_most_batch_size_plus_new_batch_threshold_messages_run_at_once(host, queues, module_tmp):
    gate = module_tmp / "concurrency.gate"
    order = json.dumps({"gate": str(gate)}).encode()
    # Two first, so the listener is at its threshold (2 in flight) before the rest arrive: it then
    # fetches one more batch of 4 and must stop there.
    first = [queues.send("SLOW_QUEUE", order) for _ in range(2)]
    wait_until(lambda: all(queues.records(i) for i in first), timeout=10, what="the first two to start")
    ids = first + [queues.send("SLOW_QUEUE", order) for _ in range(10)]

    def started() -> list[dict[str, Any]]:
        return [r for r in queues.records() if r["id"] in ids and r["event"] == "start"]

    wait_until(lambda: len(started()) >= MAX_IN_FLIGHT, timeout=10, what=f"{MAX_IN_FLIGHT} to start")
    # Held longer than the 2 s lease: renewal must keep every one of them from being redelivered.
    time.sleep(LEASE_SECONDS + 0.5)
    assert len(started()) == MAX_IN_FLIGHT
    gate.touch()
    wait_until(
        lambda: sum(r["event"] == "end" for r in queues.records() if r["id"] in ids) == len(ids),
        timeout=20,
        what="all messages to finish",
    )

    assert sorted(r["id"] for r in started()) == sorted(ids)  # each delivered exactly once
    assert {r["dequeue_count"] for r in started()} == {1}
    assert _peak_concurrency([r for r in queues.records() if r["id"] in ids]) == MAX_IN_FLIGHT
    wait_until(lambda: queues.count("SLOW_QUEUE") == 0, timeout=5, what="the messages to be deleted")


def _peak_concurrency(records: list[dict[str, Any]]) -> int:
    events = sorted((r["at"], 1 if r["event"] == "start" else -1) for r in records)
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def test_a_message_whose_host_was_killed_is_processed_again_once_its_lease_ends(module_tmp):
    queues = Queues(module_tmp / "killed-evidence.jsonl")
    app_dir = copy_app("queue_app", module_tmp / "killed")
    try:
        # The first delivery would take 30 s; the second returns at once.
        message_id = queues.send("SLOW_QUEUE", json.dumps({"seconds": [30, 0]}).encode())
        with _start_host(app_dir, queues, module_tmp / "killed-1.log") as first_host:
            wait_until(lambda: queues.records(message_id), timeout=10, what="the first delivery")
            first_host.process.send_signal(signal.SIGKILL)
            first_host.process.wait(timeout=5)
            killed_at = time.time()
        with _start_host(app_dir, queues, module_tmp / "killed-2.log"):
            wait_until(
                lambda: any(r["event"] == "end" for r in queues.records(message_id)),
                timeout=LEASE_SECONDS + 10,
                what="the redelivery",
            )
            wait_until(lambda: queues.count("SLOW_QUEUE") == 0, timeout=5, what="the message to be deleted")
    finally:
        queues.delete_all()

    records = queues.records(message_id)
    assert [(r["event"], r["dequeue_count"]) for r in records] == [("start", 1), ("start", 2), ("end", 2)]
    assert records[0]["pid"] != records[1]["pid"]
    # Not before the lease the killed host held had run out.
    assert records[1]["at"] - records[0]["at"] >= LEASE_SECONDS - 0.5
    assert records[1]["at"] - killed_at < LEASE_SECONDS + 5


def test_sigterm_stops_polling_and_lets_in_flight_invocations_finish(module_tmp):
    queues = Queues(module_tmp / "sigterm-evidence.jsonl")
    app_dir = copy_app("queue_app", module_tmp / "sigterm")
    try:
        in_flight = queues.send("SLOW_QUEUE", json.dumps({"seconds": [1.5]}).encode())
        with _start_host(app_dir, queues, module_tmp / "sigterm.log") as running:
            wait_until(lambda: queues.records(in_flight), timeout=10, what="the invocation to start")
            running.process.send_signal(signal.SIGTERM)
            time.sleep(0.3)  # the host is draining now, the invocation still running
            waiting = queues.send("SLOW_QUEUE", json.dumps({"seconds": [0]}).encode())
            assert running.process.wait(timeout=10) == 0
        remaining = queues.count("SLOW_QUEUE")
    finally:
        queues.delete_all()

    assert [r["event"] for r in queues.records(in_flight)] == ["start", "end"]
    assert queues.records(waiting) == []  # sent after SIGTERM: left for the next host
    assert remaining == 1


def test_message_encoding_none_delivers_the_text_as_stored(module_tmp):
    app_dir = copy_app("queue_app", module_tmp / "plain")
    host_json = json.loads((app_dir / "host.json").read_text())
    host_json["extensions"]["queues"]["messageEncoding"] = "none"
    (app_dir / "host.json").write_text(json.dumps(host_json))
    queues = Queues(module_tmp / "plain-evidence.jsonl")
    text = "plain text, not base64: ✓ <&>"
    try:
        with _start_host(app_dir, queues, module_tmp / "plain.log"):
            message_id = queues.send_text("RECORD_QUEUE", text)
            (record,) = wait_until(lambda: queues.records(message_id), timeout=10, what="the message")
    finally:
        queues.delete_all()

    assert base64.b64decode(record["body_b64"]).decode("utf-8") == text


def test_host_json_queue_options_and_their_defaults():
    assert QueueOptions.from_host_json({}) == QueueOptions(
        batch_size=16,
        new_batch_threshold=8,
        visibility_timeout_seconds=0,
        max_dequeue_count=5,
        max_polling_interval_seconds=60.0,
        message_encoding="base64",
    )
    options = QueueOptions.from_host_json(
        {
            "extensions": {
                "queues": {
                    "BatchSize": 10,
                    "visibilityTimeout": "00:01:30",
                    "maxPollingInterval": "00:00:02.5",
                    "messageEncoding": "None",
                }
            }
        }
    )
    assert (options.batch_size, options.new_batch_threshold) == (10, 5)
    assert options.visibility_timeout_seconds == 90
    assert options.max_polling_interval_seconds == 2.5
    assert options.message_encoding == "none"


@pytest.mark.parametrize(
    ("queues_section", "complaint"),
    [
        ({"batchSize": 33}, "batchSize"),
        ({"batchSize": "16"}, "batchSize"),
        ({"maxDequeueCount": 0}, "maxDequeueCount"),
        ({"visibilityTimeout": 10}, "visibilityTimeout"),
        ({"maxPollingInterval": "00:00:00.05"}, "maxPollingInterval"),
        ({"messageEncoding": "utf8"}, "messageEncoding"),
    ],
)
def test_bad_queue_options_refuse_start(queues_section, complaint):
    with pytest.raises(StartupError, match=complaint):
        QueueOptions.from_host_json({"extensions": {"queues": queues_section}})


def test_connection_settings_resolve_like_the_host():
    assert storage_connection_string(
        None, {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}, where="f"
    ) == (AZURITE_CONNECTION_STRING)
    assert (
        storage_connection_string("Mine", {"AzureWebJobsMine": "AccountName=a"}, where="f") == "AccountName=a"
    )
    with pytest.raises(StartupError, match="function f: app setting 'Other'"):
        storage_connection_string("Other", {}, where="function f")
    with pytest.raises(StartupError, match="identity-based"):
        storage_connection_string("Other", {"Other__queueServiceUri": "https://x"}, where="f")
    for malformed in ("garbage", "AccountKey=abc;Protocol=http", "AccountName=a;;AccountKey=b"):
        with pytest.raises(StartupError, match="does not hold a storage connection string"):
            storage_connection_string(None, {"AzureWebJobsStorage": malformed}, where="f")


def test_base64_bodies_decode_like_dotnet():
    assert decode_body("aGVs\nbG8=", "base64") == b"hello"
    assert decode_body("aGVsbG8=", "none") == b"aGVsbG8="
    with pytest.raises(ValueError):
        decode_body("hello!", "base64")


def _queue_app_functions(**binding: Any) -> list[FunctionSpec]:
    """A queue function with one more input binding, as the worker runtime's metadata names it."""
    trigger = BindingSpec("message", "queueTrigger", "in", {"queueName": "%THE_QUEUE%", "connection": ""})
    extra = BindingSpec("extra", str(binding["type"]), "in", {"name": "extra", **binding})
    return [FunctionSpec(name="consumer", function_id="1", trigger=trigger, bindings=(extra,))]


def test_durable_client_bindings_are_accepted_other_bindings_refused():
    (with_client,) = _queue_app_functions(type="durableClient")
    (with_blob,) = _queue_app_functions(type="blob", path="c/b", connection="AzureWebJobsStorage")
    triggers = QueueTriggers(
        Invoker(Worker(Path())), options=QueueOptions(), shutdown_grace_seconds=1, environ={}
    )

    assert triggers.accepts_binding(with_client.bindings[0])
    assert not triggers.accepts_binding(with_blob.bindings[0])


@pytest.mark.parametrize(
    ("environ", "complaint"),
    [
        ({"AzureWebJobsStorage": "UseDevelopmentStorage=true"}, "app setting 'THE_QUEUE'"),
        ({"THE_QUEUE": "Bad_Name", "AzureWebJobsStorage": "x"}, "not a valid queue name"),
        ({"THE_QUEUE": "fine-name"}, "app setting 'AzureWebJobsStorage'"),
    ],
)
def test_unresolvable_queue_functions_refuse_start_naming_the_function(environ, complaint):
    (spec,) = _queue_app_functions(type="durableClient")
    triggers = QueueTriggers(
        Invoker(Worker(Path())), options=QueueOptions(), shutdown_grace_seconds=1, environ=environ
    )

    with pytest.raises(StartupError, match=f"function consumer: .*{complaint}"):
        triggers.add_function(spec)
