"""Queue triggers: poll Azure Storage queues (Azurite locally) with the Functions host's semantics.

One listener per function. It fetches up to ``batchSize`` messages, invisible for the devhost lease,
and fetches again once no more than ``newBatchThreshold`` are still being processed; an empty
queue backs polling off exponentially from 100 ms up to ``maxPollingInterval``. A success deletes
the message. A failure makes it visible again after ``visibilityTimeout``, unless it has been
dequeued ``maxDequeueCount`` times: then it moves to ``<queue>-poison``. Long invocations renew
their lease at half-time, so a message reappears only when its host is gone.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import importlib
import json
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from devhost.appsettings import resolve_setting_expressions
from devhost.background import Stopping, wait_any
from devhost.errors import StartupError
from devhost.invocation import FAILED, INJECTED_BINDINGS, SUCCEEDED, Invoker, log_failure, log_invocation
from devhost.loader import BindingSpec, FunctionSpec
from devhost.storage import storage_connection_string
from devhost.timespan import parse_timespan
from devhost.worker import typed_bytes, typed_json, typed_string

if TYPE_CHECKING:  # the storage SDK is imported only by apps that have queue functions
    from azure.storage.queue import QueueMessage as StorageQueueMessage
    from azure.storage.queue.aio import QueueClient, QueueServiceClient

logger = logging.getLogger(__name__)
# The storage SDK logs every request and response at INFO; devhost's own polling would drown the
# invocation lines, so its clients log to this logger, shown only with --log-level DEBUG.
storage_logger = logging.getLogger("devhost.storage")

QUEUE_TRIGGER = "queueTrigger"
POISON_SUFFIX = "-poison"
# The real host keeps a message invisible for 10 minutes while processing it; a shorter devhost
# default lets a killed host's messages come back quickly.
DEFAULT_LEASE_SECONDS = 30
MIN_POLLING_INTERVAL_SECONDS = 0.1
MAX_BATCH_SIZE = 32  # the most one Get Messages call returns
BASE64 = "base64"
NO_ENCODING = "none"
# Azure's rule: 3-63 lower-case letters, digits and single dashes, starting and ending alphanumeric.
_QUEUE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")


@dataclass(frozen=True)
class QueueOptions:
    """host.json ``extensions.queues``, with the Functions host's defaults."""

    batch_size: int = 16
    new_batch_threshold: int = 8
    visibility_timeout_seconds: int = 0
    max_dequeue_count: int = 5
    max_polling_interval_seconds: float = 60.0
    message_encoding: str = BASE64

    @classmethod
    def from_host_json(cls, host_json: Mapping[str, Any]) -> QueueOptions:
        extensions = host_json.get("extensions") or {}
        section = extensions.get("queues") or {}
        if not isinstance(section, Mapping):
            raise StartupError("host.json: extensions.queues must be an object")
        # The host reads its configuration case-insensitively.
        raw = {str(key).lower(): value for key, value in section.items()}
        batch_size = _integer(raw, "batchSize", 16, minimum=1, maximum=MAX_BATCH_SIZE)
        polling = _span_seconds(raw, "maxPollingInterval", 60.0)
        if polling < MIN_POLLING_INTERVAL_SECONDS:
            raise StartupError("host.json: extensions.queues.maxPollingInterval must be at least 00:00:00.1")
        encoding = str(raw.get("messageencoding", BASE64)).lower()
        if encoding not in (BASE64, NO_ENCODING):
            raise StartupError("host.json: extensions.queues.messageEncoding must be 'base64' or 'none'")
        return cls(
            batch_size=batch_size,
            new_batch_threshold=_integer(raw, "newBatchThreshold", batch_size // 2, minimum=0),
            # Storage takes whole seconds; the host truncates as well.
            visibility_timeout_seconds=int(_span_seconds(raw, "visibilityTimeout", 0.0)),
            max_dequeue_count=_integer(raw, "maxDequeueCount", 5, minimum=1),
            max_polling_interval_seconds=polling,
            message_encoding=encoding,
        )


@dataclass(frozen=True)
class QueueFunction:
    spec: FunctionSpec
    queue_name: str
    connection_string: str

    @property
    def poison_queue_name(self) -> str:
        return f"{self.queue_name}{POISON_SUFFIX}"


class QueueTriggers:
    """Serves every queueTrigger function of the app, one polling listener each."""

    trigger_type = QUEUE_TRIGGER

    def __init__(
        self,
        invoker: Invoker,
        *,
        options: QueueOptions,
        lease_seconds: int = DEFAULT_LEASE_SECONDS,
        shutdown_grace_seconds: float,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self._invoker = invoker
        self._options = options
        self._lease_seconds = lease_seconds
        self._stopping = Stopping(shutdown_grace_seconds)
        self._environ = environ
        self._functions: list[QueueFunction] = []

    def accepts_binding(self, binding: BindingSpec) -> bool:
        return binding.type in INJECTED_BINDINGS

    def add_function(self, spec: FunctionSpec) -> None:
        where = f"function {spec.name}"
        queue_name = resolve_setting_expressions(
            str(spec.trigger.raw.get("queueName") or ""), self._environ, where=where
        )
        if not _QUEUE_NAME.fullmatch(queue_name):
            raise StartupError(
                f"{where}: '{queue_name}' is not a valid queue name (3-63 lower-case letters, "
                "digits and single dashes, starting and ending with a letter or digit)"
            )
        connection = spec.trigger.raw.get("connection")
        self._functions.append(
            QueueFunction(
                spec=spec,
                queue_name=queue_name,
                connection_string=storage_connection_string(
                    str(connection) if connection else None, self._environ, where=where
                ),
            )
        )

    def describe(self, base_url: str) -> list[str]:
        return [
            f"{function.spec.name}: [queueTrigger] queue {function.queue_name}"
            for function in sorted(self._functions, key=lambda f: f.spec.name)
        ]

    def setup(self, web_app: web.Application) -> None:
        if self._functions:
            self._stopping.attach(web_app)
            web_app.cleanup_ctx.append(self._listen)

    async def _listen(self, _web_app: web.Application) -> AsyncIterator[None]:
        services: dict[str, QueueServiceClient] = {}
        listeners: list[QueueListener] = []
        polling = asyncio.create_task(self._poll(services, listeners), name="queue listeners")
        try:
            yield
        finally:
            self._stopping.set()
            await self._stopping.drain([polling], "queue listeners")
            await self._stopping.drain(
                [task for listener in listeners for task in listener.in_flight], "queue invocations"
            )
            for service in services.values():
                await service.close()

    async def _poll(self, services: dict[str, QueueServiceClient], listeners: list[QueueListener]) -> None:
        """Create a client per connection and a listener per function, then poll until stopping."""
        # The storage SDK takes 100-200 ms to import: a thread keeps it off the event loop, so
        # HTTP functions are served meanwhile, as they would be by the Functions host.
        aio = await asyncio.to_thread(importlib.import_module, "azure.storage.queue.aio")
        if not logging.getLogger().isEnabledFor(logging.DEBUG):
            storage_logger.setLevel(logging.WARNING)
        for function in self._functions:
            if function.connection_string not in services:
                services[function.connection_string] = aio.QueueServiceClient.from_connection_string(
                    function.connection_string, logger=storage_logger
                )
            service = services[function.connection_string]
            listeners.append(
                QueueListener(
                    function,
                    queue=service.get_queue_client(function.queue_name),
                    poison_queue=service.get_queue_client(function.poison_queue_name),
                    invoker=self._invoker,
                    options=self._options,
                    lease_seconds=self._lease_seconds,
                    stopping=self._stopping,
                )
            )
        try:
            await asyncio.gather(*(listener.run() for listener in listeners))
        except Exception:
            logger.exception("queue listeners failed; queue functions are no longer served")


class QueueListener:
    """Polls one function's queue and processes its messages, at most ``batch_size`` +
    ``new_batch_threshold`` at once (it receives a batch only while at most the threshold run)."""

    def __init__(
        self,
        function: QueueFunction,
        *,
        queue: QueueClient,
        poison_queue: QueueClient,
        invoker: Invoker,
        options: QueueOptions,
        lease_seconds: int,
        stopping: Stopping,
    ) -> None:
        self._function = function
        self._queue = queue
        self._poison_queue = poison_queue
        self._poison_queue_ready = False
        self._invoker = invoker
        self._options = options
        self._lease_seconds = lease_seconds
        self._stopping = stopping
        self.in_flight: set[asyncio.Task[None]] = set()
        self._slot_freed = asyncio.Event()

    @property
    def name(self) -> str:
        return f"{self._function.spec.name} ({self._function.queue_name})"

    async def run(self) -> None:
        """Poll until the host stops; storage errors are logged and retried with back-off."""
        delay = MIN_POLLING_INTERVAL_SECONDS
        queue_ready = False
        failing = False
        while not self._stopping.is_set():
            if len(self.in_flight) > self._options.new_batch_threshold:
                self._slot_freed.clear()
                await wait_any([self._slot_freed, self._stopping.event])
                continue
            try:
                if not queue_ready:
                    await _create_if_missing(self._queue)
                    queue_ready = True
                messages = await self._receive()
            except Exception as exc:
                # Typically storage unreachable; the host keeps retrying too.
                log = logger.debug if failing else logger.warning
                log("queue %s: polling failed (%s); retrying", self._function.queue_name, _brief(exc))
                failing = True
                messages = []
            else:
                if failing:
                    logger.info("queue %s: polling recovered", self._function.queue_name)
                failing = False
            if messages:
                delay = MIN_POLLING_INTERVAL_SECONDS
                for message in messages:
                    self._start(message)
                continue
            if await self._stopping.sleep(delay):
                return
            delay = min(delay * 2, self._options.max_polling_interval_seconds)

    async def _receive(self) -> list[StorageQueueMessage]:
        count = self._options.batch_size
        pages = self._queue.receive_messages(
            messages_per_page=count, max_messages=count, visibility_timeout=self._lease_seconds
        )
        return [message async for message in pages]

    def _start(self, message: StorageQueueMessage) -> None:
        task = asyncio.create_task(self._process(message), name=f"queue message {message.id}")
        self.in_flight.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        self._slot_freed.set()
        if not task.cancelled() and task.exception() is not None:
            logger.error("queue %s: message handling failed", self.name, exc_info=task.exception())

    async def _process(self, message: StorageQueueMessage) -> None:
        lease = Lease(self._queue, message, self._lease_seconds)
        max_dequeue = self._options.max_dequeue_count
        dequeue_count = message.dequeue_count or 0
        poison_reason: str | None = None
        succeeded = False
        if dequeue_count > max_dequeue:
            # Dequeued by hosts that died before finishing it: the host poisons it unprocessed.
            poison_reason = f"its dequeue count {dequeue_count} exceeds {max_dequeue}"
        else:
            try:
                body = decode_body(message.content, self._options.message_encoding)
            except ValueError:
                poison_reason = "it is not valid base64 (host.json messageEncoding is base64)"
            else:
                async with lease.renewing():
                    succeeded = await self._invoke(message, body)
                if not succeeded and dequeue_count >= max_dequeue:
                    poison_reason = f"it failed {dequeue_count} time(s)"
        try:
            if poison_reason is not None:
                await self._poison(message, lease, poison_reason)
            elif succeeded:
                await self._queue.delete_message(message.id, lease.pop_receipt)
            else:
                await self._queue.update_message(
                    message.id, lease.pop_receipt, visibility_timeout=self._options.visibility_timeout_seconds
                )
        except Exception as exc:
            logger.warning(
                "queue %s: message %s could not be completed (%s); it reappears when its lease ends",
                self._function.queue_name,
                message.id,
                _brief(exc),
            )

    async def _invoke(self, message: StorageQueueMessage, body: bytes) -> bool:
        spec = self._function.spec
        invocation_id = self._invoker.new_invocation_id()
        started = time.perf_counter()
        try:
            await self._invoker.invoke(spec, invocation_id, typed_bytes(body), trigger_metadata(message))
            outcome = SUCCEEDED
        except Exception as exc:
            # The traceback stays in the host log, as for HTTP functions.
            log_failure(spec, invocation_id, exc)
            outcome = FAILED
        log_invocation(
            spec,
            trigger="queue",
            detail=f"{self._function.queue_name} message {message.id} dequeue count {message.dequeue_count}",
            outcome=outcome,
            duration_ms=(time.perf_counter() - started) * 1000,
            invocation_id=invocation_id,
        )
        return outcome == SUCCEEDED

    async def _poison(self, message: StorageQueueMessage, lease: Lease, reason: str) -> None:
        poison_name = self._function.poison_queue_name
        if not self._poison_queue_ready:
            await _create_if_missing(self._poison_queue)
            self._poison_queue_ready = True
        # The stored text unchanged, so the poison message decodes exactly as the original did.
        await self._poison_queue.send_message(message.content or "")
        await self._queue.delete_message(message.id, lease.pop_receipt)
        logger.warning(
            "function %s: message %s moved from %s to %s because %s",
            self._function.spec.name,
            message.id,
            self._function.queue_name,
            poison_name,
            reason,
        )


class Lease:
    """A received message's invisibility, renewed at half-time while the function runs.

    Every visibility update issues a new pop receipt; deleting or releasing the message needs the
    latest one, so a renewal in progress is awaited, never cancelled, when the invocation ends.
    """

    def __init__(self, queue: QueueClient, message: StorageQueueMessage, seconds: int) -> None:
        self._queue = queue
        self._message_id: str = message.id
        self.pop_receipt: str | None = message.pop_receipt
        self._seconds = seconds

    @contextlib.asynccontextmanager
    async def renewing(self) -> AsyncIterator[None]:
        done = asyncio.Event()
        renewal = asyncio.create_task(self._renew_until(done))
        try:
            yield
        finally:
            done.set()
            try:
                await renewal
            except asyncio.CancelledError:
                renewal.cancel()
                raise

    async def _renew_until(self, done: asyncio.Event) -> None:
        interval = self._seconds / 2
        while not await wait_any([done], within=interval):
            try:
                receipt = await self._queue.update_message(
                    self._message_id, self.pop_receipt, visibility_timeout=self._seconds
                )
            except Exception as exc:
                logger.warning(
                    "message %s: lease renewal failed (%s); it may be delivered again",
                    self._message_id,
                    _brief(exc),
                )
                return
            self.pop_receipt = receipt.pop_receipt


def decode_body(content: str | None, encoding: str) -> bytes:
    """The message body as the host hands it over; ValueError for bad base64 under base64."""
    text = content or ""
    if encoding == NO_ENCODING:
        return text.encode("utf-8")
    try:
        # Like .NET's Convert.FromBase64String: whitespace is ignored, anything else must be valid.
        return base64.b64decode("".join(text.split()), validate=True)
    except binascii.Error as exc:
        raise ValueError(str(exc)) from None


def trigger_metadata(message: StorageQueueMessage) -> dict[str, Any]:
    """The queue trigger's metadata as the host sends it: strings, and JSON for numbers and times."""
    metadata = {"Id": typed_string(message.id), "DequeueCount": typed_json(str(message.dequeue_count))}
    if message.pop_receipt:
        metadata["PopReceipt"] = typed_string(message.pop_receipt)
    for name, moment in (
        ("ExpirationTime", message.expires_on),
        ("InsertionTime", message.inserted_on),
        ("NextVisibleTime", message.next_visible_on),
    ):
        if moment is not None:
            metadata[name] = typed_json(json.dumps(moment.isoformat()))
    return metadata


async def _create_if_missing(queue: QueueClient) -> None:
    from azure.core.exceptions import ResourceExistsError

    with contextlib.suppress(ResourceExistsError):
        await queue.create_queue()


def _integer(
    raw: Mapping[str, Any], key: str, default: int, *, minimum: int, maximum: int | None = None
) -> int:
    value = raw.get(key.lower(), default)
    in_range = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    if not in_range or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise StartupError(f"host.json: extensions.queues.{key} must be an integer {bounds}")
    return int(value)


def _span_seconds(raw: Mapping[str, Any], key: str, default: float) -> float:
    value = raw.get(key.lower())
    if value is None:
        return default
    try:
        if not isinstance(value, str):
            raise ValueError("not a string")
        return parse_timespan(value).total_seconds()
    except ValueError:
        raise StartupError(f"host.json: extensions.queues.{key} must be a TimeSpan like '00:00:10'") from None


def _brief(exc: BaseException) -> str:
    """An exception's class and first line: storage errors carry whole HTTP responses otherwise."""
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__
