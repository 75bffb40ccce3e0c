"""The fault tests' and load benchmarks' common parts: Herald's settings for them, a stream of
messages with a ledger of what the API accepted, and the end-to-end invariant check.

The invariant (README, Delivery): every accepted message reaches every subscribed endpoint, signed,
or ends in a recorded failure. So after a fault and a settling period, each accepted
message-endpoint pair is either delivered (the receiver acknowledged it with a 2xx on a connection
Herald still held, and `standardwebhooks` verifies its signature) or `fail` in the API with its
attempts listed. A pair with neither is lost. Deliveries beyond the first of a pair are duplicates:
allowed by at-least-once delivery, counted and bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from azure.core.exceptions import AzureError, ResourceExistsError
from azure.storage.queue import QueueClient
from svix.api import MessageAttemptListByMsgOptions, Svix, SvixOptions
from svix.exceptions import HttpError

from tests.support.receivers import Hit, Receiver, signature_holds

LONG = os.environ.get("HERALD_LONG_TESTS") == "1"
EVENT_TYPE = "reliability.tick"
INBOUND_QUEUE = "herald-inbound"
# Svix's wire values of a message-endpoint pair's status.
SUCCESS, PENDING, FAIL = 0, 1, 2
_POLL_SECONDS = 0.2
_REQUEST_TIMEOUT_SECONDS = 30.0


def scaled(short: int | float, long: int | float) -> Any:
    """The short form's value in `make test`, the long one with HERALD_LONG_TESTS=1."""
    return long if LONG else short


def fault_env(
    base: dict[str, str], *, cosmos_endpoint: str, storage: str, **overrides: str
) -> dict[str, str]:
    """Herald's settings for fault tests: its own database, short retries, timers at a quarter time.

    Retries every 0.5-1.5 s of wall clock (schedule 2,2,4,4,6 at timer scale 0.25, about 4.5 s in
    all); the breaker opens after 5 failures for 1 s; the sweeper runs every 2 s with a 3 s grace;
    rate limits out of the way; readiness probed on every call, so it shows a fault and its end at
    once.
    """
    return {
        **base,
        "HERALD_COSMOS_ENDPOINT": cosmos_endpoint,
        "AzureWebJobsStorage": storage,
        "HERALD_COSMOS_DATABASE": f"herald-reliability-{uuid.uuid4().hex[:8]}",
        "DEVHOST_DURABLE_TIMER_SCALE": "0.25",
        "HERALD_RETRY_SCHEDULE": "2,2,4,4,6",
        "HERALD_RETRY_FLOOR_SECONDS": "2",
        "HERALD_DELIVERY_TIMEOUT_SECONDS": "1",
        "HERALD_SWEEP_SCHEDULE": "*/2 * * * * *",
        "HERALD_SWEEP_GRACE_SECONDS": "3",
        "HERALD_BREAKER_FAILURES": "5",
        "HERALD_BREAKER_COOLDOWN_SECONDS": "1",
        "HERALD_API_RATE_PER_SECOND": "5000",
        "HERALD_API_BURST": "5000",
        "DEVHOST_QUEUE_LEASE_SECONDS": "3",
        "HERALD_READINESS_CACHE_SECONDS": "0",
        **overrides,
    }


# --- the API, as a producer and as an auditor sees it ------------------------------------------


@dataclass(frozen=True)
class Target:
    """One endpoint of the test's application and the receiver path it points at."""

    endpoint_id: str
    path: str
    secret: str


@dataclass(frozen=True)
class Sent:
    """One create request and the API's answer (status None: no answer, e.g. the host died)."""

    ref: str
    key: str
    status: int | None
    msg_id: str | None
    retry_after: str | None
    started: float
    ended: float
    error: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Api:
    """Herald's HTTP API with a tenant's token (httpx: every answer is seen as it is, no retries)."""

    def __init__(self, base_url: str, token: str, *, timeout: float = _REQUEST_TIMEOUT_SECONDS) -> None:
        self.base_url = base_url
        self.token = token
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        self.http = httpx.Client(
            base_url=base_url,
            headers={"authorization": f"Bearer {token}"},
            timeout=timeout,
            limits=limits,
        )

    def close(self) -> None:
        self.http.close()

    def svix(self) -> Svix:
        return Svix(self.token, SvixOptions(server_url=self.base_url))

    def create_app(self, name: str) -> str:
        answer = self.http.post("/api/v1/app", json={"name": name, "uid": f"rel-{uuid.uuid4().hex[:10]}"})
        answer.raise_for_status()
        return str(answer.json()["id"])

    def create_target(self, app_id: str, receiver: Receiver, path: str) -> Target:
        answer = self.http.post(f"/api/v1/app/{app_id}/endpoint", json={"url": receiver.url(path)})
        answer.raise_for_status()
        endpoint_id = str(answer.json()["id"])
        secret = self.http.get(f"/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret")
        secret.raise_for_status()
        key = str(secret.json()["key"])
        receiver.expect_secret(path, key)
        return Target(endpoint_id, path, key)

    def send(self, app_id: str, ref: str, *, key: str | None = None) -> Sent:
        key = key or f"rel-{ref}"
        started = time.monotonic()
        try:
            answer = self.http.post(
                f"/api/v1/app/{app_id}/msg",
                json={"eventType": EVENT_TYPE, "payload": {"ref": ref}},
                headers={"idempotency-key": key},
            )
        except httpx.HTTPError as exc:
            return Sent(ref, key, None, None, None, started, time.monotonic(), type(exc).__name__)
        msg_id = answer.json().get("id") if answer.is_success else None
        return Sent(
            ref, key, answer.status_code, msg_id, answer.headers.get("retry-after"), started, time.monotonic()
        )

    def get(self, path: str, **options: Any) -> httpx.Response:
        """A read; a 503 (a store busy with a large listing) is retried after its Retry-After, 5 times."""
        for _ in range(5):
            answer = self.http.get(path, **options)
            if answer.status_code != 503:
                break
            time.sleep(float(answer.headers.get("retry-after", "1")))
        answer.raise_for_status()
        return answer

    def pages(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a list route, following its iterator (bounded)."""
        iterator: str | None = None
        for _ in range(1000):
            query = {"limit": 250, **params, **({"iterator": iterator} if iterator else {})}
            answer = self.get(path, params=query)
            page = answer.json()
            yield from page["data"]
            if page.get("done", True) or not page.get("iterator"):
                return
            iterator = page["iterator"]
        raise AssertionError(f"{path}: more than 1000 pages")

    def messages_by_ref(self, app_id: str) -> dict[str, list[str]]:
        """Each payload marker and the ids of the messages stored with it."""
        found: dict[str, list[str]] = defaultdict(list)
        for message in self.pages(f"/api/v1/app/{app_id}/msg", with_content="true"):
            ref = message.get("payload", {}).get("ref")
            if ref is not None:
                found[str(ref)].append(str(message["id"]))
        return dict(found)

    def pair_statuses(self, app_id: str, endpoint_id: str) -> dict[str, int]:
        """Message id -> the pair's status, for every message of an endpoint."""
        return {
            str(item["id"]): int(item["status"])
            # Expanded: a canceled pair must read as canceled (4), never as Svix's legacy success (0).
            for item in self.pages(
                f"/api/v1/app/{app_id}/endpoint/{endpoint_id}/msg",
                with_content="false",
                expanded_statuses="true",
            )
        }


# --- the stream of messages ----------------------------------------------------------------------


@dataclass
class Ledger:
    """Every create request of the test and the answer it got."""

    sent: list[Sent] = field(default_factory=list)
    # Messages published through the inbound queue (accepted: the enqueue succeeded).
    queued: list[str] = field(default_factory=list)
    queue_refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sent: Sent) -> None:
        with self.lock:
            self.sent.append(sent)

    def add_queued(self, ref: str, *, accepted: bool) -> None:
        with self.lock:
            (self.queued if accepted else self.queue_refused).append(ref)

    def answered_ids(self) -> dict[str, str]:
        """The message id the API answered for each accepted create."""
        with self.lock:
            return {s.ref: s.msg_id for s in self.sent if s.accepted and s.msg_id}

    def accepted_refs(self) -> list[str]:
        with self.lock:
            return [s.ref for s in self.sent if s.accepted] + list(self.queued)

    def statuses(self) -> Counter[str]:
        with self.lock:
            return Counter(str(s.status if s.status is not None else s.error) for s in self.sent)


class Stream:
    """Calls `publish(ref)` for `count` messages at `rate` per second, from a few threads (a slow
    answer delays none of the others); `with Stream(...)` waits for the last one on exit, bounded.
    `publish` records what it got in the ledger."""

    def __init__(
        self,
        publish: Callable[[str], None],
        *,
        count: int,
        rate: float,
        prefix: str,
        workers: int = 8,
        grace: float = _REQUEST_TIMEOUT_SECONDS + 5,
    ) -> None:
        self._publish = publish
        self._grace = grace
        self._count = count
        self._interval = 1.0 / rate
        self._prefix = prefix
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"stream-{prefix}")
        self._thread = threading.Thread(target=self._run, name=f"stream-{prefix}", daemon=True)
        self._stop = threading.Event()
        self.done = threading.Event()

    def __enter__(self) -> Stream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        bound = self._count * self._interval + self._grace
        finished = self.done.wait(bound)
        self._stop.set()
        self._thread.join(5)
        self._pool.shutdown(wait=True, cancel_futures=True)
        assert finished or exc[0] is not None, "the stream did not finish in time"

    def _run(self) -> None:
        started = time.monotonic()
        futures = []
        for n in range(self._count):
            if self._stop.is_set():
                break
            delay = started + n * self._interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(self._pool.submit(self._publish, f"{self._prefix}-{n}"))
        for future in futures:
            if self._stop.is_set():
                return
            with contextlib.suppress(CancelledError):
                future.result(self._grace)
        self.done.set()


def api_stream(
    api: Api, app_id: str, ledger: Ledger, *, count: int, rate: float, prefix: str, **options: Any
) -> Stream:
    """A stream of message creates over the API, each answer in the ledger."""
    return Stream(
        lambda ref: ledger.add(api.send(app_id, ref)), count=count, rate=rate, prefix=prefix, **options
    )


class InboundQueue:
    """A producer on Herald's inbound queue (`herald-inbound`, plain-text JSON)."""

    def __init__(self, connection_string: str) -> None:
        # Short timeouts and no retries: an enqueue that does not succeed at once is not accepted.
        self.client = QueueClient.from_connection_string(
            connection_string, INBOUND_QUEUE, connection_timeout=2, read_timeout=3, retry_total=0
        )
        with contextlib.suppress(ResourceExistsError):
            self.client.create_queue()

    def close(self) -> None:
        self.client.close()

    def publish(self, tenant_id: str, app_id: str, ref: str, *, key: str | None = None) -> str | None:
        """Enqueues a message; its queue message id, or None when the enqueue failed."""
        body: dict[str, Any] = {"tenantId": tenant_id, "appId": app_id, "eventType": EVENT_TYPE}
        body["payload"] = {"ref": ref}
        if key is not None:
            body["idempotencyKey"] = key
        try:
            return str(self.client.send_message(json.dumps(body)).id)
        except AzureError:
            return None

    def stream(
        self, tenant_id: str, app_id: str, ledger: Ledger, *, count: int, rate: float, prefix: str
    ) -> Stream:
        def publish(ref: str) -> None:
            ledger.add_queued(ref, accepted=self.publish(tenant_id, app_id, ref) is not None)

        return Stream(publish, count=count, rate=rate, prefix=prefix)


# --- the invariant ------------------------------------------------------------------------------------


@dataclass
class Report:
    scenario: str
    accepted: int
    pairs: int
    delivered: int
    failed: int
    duplicates: int
    lost: list[str]
    bad_signatures: int
    # Delivered pairs whose recorded status is not success after settling (informational).
    delivered_not_recorded: int
    # Messages answered with a non-2xx (or no answer) that were delivered anyway.
    unaccepted_delivered: int
    # Accepted refs stored as more than one message.
    duplicate_messages: int
    answers: dict[str, int]
    settle_seconds: float
    # Retry workflows by runtime status at the end.
    workflows: dict[str, int] = field(default_factory=dict)

    @property
    def duplicate_ratio(self) -> float:
        return self.duplicates / self.delivered if self.delivered else 0.0

    def line(self) -> str:
        return (
            f"{self.scenario}: accepted {self.accepted} msgs / {self.pairs} pairs,"
            f" delivered {self.delivered}, failed {self.failed}, lost {len(self.lost)},"
            f" duplicates {self.duplicates}"
            f" ({self.duplicate_ratio:.1%}), duplicate messages {self.duplicate_messages},"
            f" bad signatures {self.bad_signatures}, delivered but not recorded success"
            f" {self.delivered_not_recorded}, unaccepted but delivered {self.unaccepted_delivered},"
            f" answers {self.answers}, workflows {self.workflows}, settled in {self.settle_seconds:.1f}s"
        )

    def assert_invariant(self, *, max_duplicate_ratio: float) -> None:
        print(f"\nRELIABILITY {self.line()}")
        assert not self.lost, f"pairs neither delivered nor recorded as failed: {self.lost[:10]}"
        assert self.bad_signatures == 0, "deliveries whose signature does not verify"
        assert self.delivered + self.failed == self.pairs
        assert self.duplicate_ratio <= max_duplicate_ratio, (
            f"{self.duplicates} duplicate deliveries of {self.delivered} pairs"
            f" (more than {max_duplicate_ratio:.0%})"
        )


def _verified(hit: Hit, secret: str) -> bool:
    return hit.verified if hit.verified is not None else signature_holds(secret, hit.body, hit.headers)


def _deliveries(
    receiver: Receiver, targets: list[Target], *, by: Callable[[Hit], str | None]
) -> tuple[Counter[tuple[str, str]], int]:
    """How often each (message, path) was acknowledged, the message named `by(hit)`, counting only
    signatures that verify; and how many acknowledged requests carried a bad one."""
    secrets = {t.path: t.secret for t in targets}
    acknowledged: Counter[tuple[str, str]] = Counter()
    bad_signatures = 0
    for hit in receiver.snapshot():
        key = by(hit)
        if not hit.acknowledged or hit.path not in secrets or key is None:
            continue
        if not _verified(hit, secrets[hit.path]):
            bad_signatures += 1
            continue
        acknowledged[(key, hit.path)] += 1
    return acknowledged, bad_signatures


def workflows(host_url: str, app_id: str | None = None) -> Counter[str]:
    """How many retry workflows the host has in each runtime status (those of `app_id` only, when
    given: a host shared by several tests holds the earlier tests' workflows too)."""
    answer = httpx.get(
        f"{host_url}/runtime/webhooks/durabletask/instances",
        params={"showInput": "false"},
        timeout=_REQUEST_TIMEOUT_SECONDS,
    )
    answer.raise_for_status()
    return Counter(
        str(instance["runtimeStatus"])
        for instance in answer.json()
        if app_id is None or f"~{app_id}~" in str(instance["instanceId"])
    )


def live_workflows(host_url: str) -> int:
    """Retry workflows still running or waiting to start."""
    answer = httpx.get(
        f"{host_url}/runtime/webhooks/durabletask/instances",
        params={"showInput": "false", "runtimeStatus": "Running,Pending"},
        timeout=_REQUEST_TIMEOUT_SECONDS,
    )
    answer.raise_for_status()
    return len(answer.json())


def settle_and_check(
    scenario: str,
    api: Api,
    app_id: str,
    targets: Iterable[Target],
    receiver: Receiver,
    ledger: Ledger,
    *,
    timeout: float,
    quiet_seconds: float = 8.0,
) -> Report:
    """Waits until every accepted pair is delivered or finished, then judges.

    Gives up waiting after `timeout`, or earlier when pairs stay unsettled with no retry workflow
    live for `quiet_seconds` (longer than the sweeper's grace and period): nothing will move them.
    """
    targets = list(targets)
    accepted = ledger.accepted_refs()
    started = time.monotonic()
    deadline = started + timeout
    by_ref: dict[str, list[str]] = {}
    statuses: dict[str, dict[str, int]] = {}
    previous: list[tuple[str, str]] = []
    unchanged_since = started
    while True:
        by_ref = api.messages_by_ref(app_id)
        statuses = {t.path: api.pair_statuses(app_id, t.endpoint_id) for t in targets}
        unsettled = [
            (ref, t.path)
            for ref in accepted
            for t in targets
            if not by_ref.get(ref)
            or any(statuses[t.path].get(m, PENDING) == PENDING for m in by_ref.get(ref, []))
        ]
        now = time.monotonic()
        if unsettled != previous:
            previous, unchanged_since = unsettled, now
        if not unsettled or now > deadline:
            break
        if now - unchanged_since > quiet_seconds and not live_workflows(api.base_url):
            break
        time.sleep(_POLL_SECONDS)
    settle_seconds = time.monotonic() - started
    # A last look a moment later, so retries already on their way are counted too.
    time.sleep(1.0)
    acknowledged, bad_signatures = _deliveries(receiver, targets, by=lambda hit: hit.ref)
    delivered_refs = {ref for ref, _ in acknowledged}

    answered = ledger.answered_ids()
    svix = api.svix()
    delivered = failed = duplicates = not_recorded = 0
    lost: list[str] = []
    for ref in accepted:
        for target in targets:
            count = acknowledged.get((ref, target.path), 0)
            msg_ids = by_ref.get(ref, [])
            if ref in answered and answered[ref] not in msg_ids:
                # Answered 2xx with an id that was never stored: the API promised what it had not kept.
                lost.append(f"{ref}->{target.path} (answered {answered[ref]}, stored {msg_ids})")
                continue
            if count:
                delivered += 1
                duplicates += count - 1
                if any(statuses[target.path].get(m) != SUCCESS for m in msg_ids):
                    not_recorded += 1
                continue
            if msg_ids and all(
                statuses[target.path].get(m) == FAIL and _has_failed_attempts(svix, app_id, m, target)
                for m in msg_ids
            ):
                failed += 1
                continue
            found = ",".join(f"{m}:{statuses[target.path].get(m)}" for m in msg_ids) or "no message"
            lost.append(f"{ref}->{target.path} ({found})")
    accepted_set = set(accepted)
    return Report(
        scenario=scenario,
        accepted=len(accepted),
        pairs=len(accepted) * len(targets),
        delivered=delivered,
        failed=failed,
        duplicates=duplicates,
        lost=lost,
        bad_signatures=bad_signatures,
        delivered_not_recorded=not_recorded,
        unaccepted_delivered=len(delivered_refs - accepted_set),
        duplicate_messages=sum(1 for ref in accepted if len(by_ref.get(ref, [])) > 1),
        answers=dict(ledger.statuses()),
        settle_seconds=settle_seconds,
        workflows=dict(workflows(api.base_url, app_id)),
    )


def audit_by_ids(
    scenario: str,
    api: Api,
    app_id: str,
    targets: Iterable[Target],
    receiver: Receiver,
    ledger: Ledger,
    *,
    budget_seconds: float = 300.0,
) -> Report:
    """The invariant for API-created messages judged by the ids the API answered: deliveries from
    the receiver, and only the pairs never delivered looked up in the API (a load run's audit,
    whose cost does not grow with the pairs that were delivered). Past `budget_seconds` the pairs
    left are counted as lost, unverified."""
    targets = list(targets)
    deadline = time.monotonic() + budget_seconds
    answered = ledger.answered_ids()
    acknowledged, bad_signatures = _deliveries(receiver, targets, by=lambda hit: hit.msg_id)
    svix = api.svix()
    delivered = failed = duplicates = 0
    lost: list[str] = []
    for ref, msg_id in answered.items():
        for target in targets:
            count = acknowledged.get((msg_id, target.path), 0)
            if count:
                delivered += 1
                duplicates += count - 1
                continue
            if time.monotonic() > deadline:
                lost.append(f"{ref}->{target.path} ({msg_id}: not verified, audit out of time)")
                continue
            try:
                recorded = _has_failed_attempts(svix, app_id, msg_id, target)
            except HttpError as exc:
                # The store could not answer in time (a very large partition on the local server).
                lost.append(f"{ref}->{target.path} ({msg_id}: not verified, {exc.code})")
                continue
            if recorded:
                failed += 1
            else:
                lost.append(f"{ref}->{target.path} ({msg_id})")
    return Report(
        scenario=scenario,
        accepted=len(answered),
        pairs=len(answered) * len(targets),
        delivered=delivered,
        failed=failed,
        duplicates=duplicates,
        lost=lost,
        bad_signatures=bad_signatures,
        delivered_not_recorded=0,
        unaccepted_delivered=0,
        duplicate_messages=0,
        answers=dict(ledger.statuses()),
        settle_seconds=0.0,
        workflows=dict(workflows(api.base_url)),
    )


def _has_failed_attempts(svix: Svix, app_id: str, msg_id: str, target: Target) -> bool:
    """The SDK's view of a failed pair: `fail` among the message's destinations, attempts listed."""
    destinations = svix.message_attempt.list_attempted_destinations(app_id, msg_id).data
    if not any(d.id == target.endpoint_id and str(d.status_text) == "fail" for d in destinations):
        return False
    attempts = svix.message_attempt.list_by_msg(
        app_id, msg_id, MessageAttemptListByMsgOptions(endpoint_id=target.endpoint_id)
    ).data
    return bool(attempts) and all(
        a.response_status_code == 0 or a.response_status_code >= 300 for a in attempts
    )


def readiness(host_url: str) -> httpx.Response:
    return httpx.get(f"{host_url}/api/v1/health/ready", timeout=_REQUEST_TIMEOUT_SECONDS)


def assert_not_ready(answer: httpx.Response, dependency: str) -> None:
    """503; and when the answer reports each dependency, `dependency` is named down."""
    assert answer.status_code == 503, answer.text
    body = answer.json()
    if isinstance(body.get("dependencies"), dict):
        assert body["dependencies"].get(dependency) == "down", answer.text
    elif set(body) - {"code", "detail"}:
        assert dependency in answer.text.lower(), answer.text


@contextmanager
def api_for(base_url: str, token: str) -> Iterator[Api]:
    api = Api(base_url, token)
    try:
        yield api
    finally:
        api.close()
