"""A sample app for devhost's queue tests.

Queue names come from app settings (``%NAME%``), so every test uses queues of its own. Each
function appends one JSON line per event to the file named by EVIDENCE_PATH; that file is what the
tests observe.
"""

import asyncio
import base64
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import azure.functions as func

app = func.FunctionApp()

_write_lock = threading.Lock()


def _record(function: str, message: func.QueueMessage, event: str = "run", **extra: Any) -> None:
    line = {
        "function": function,
        "event": event,
        "id": message.id,
        "body_b64": base64.b64encode(message.get_body()).decode(),
        "dequeue_count": message.dequeue_count,
        "pid": os.getpid(),
        "thread": threading.current_thread().name,
        "at": time.time(),
        **extra,
    }
    with _write_lock, Path(os.environ["EVIDENCE_PATH"]).open("a", encoding="utf-8") as evidence:
        evidence.write(json.dumps(line) + "\n")


def _isoformat(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


@app.queue_trigger(arg_name="message", queue_name="%RECORD_QUEUE%", connection="AzureWebJobsStorage")
async def record(message: func.QueueMessage) -> None:
    _record(
        "record",
        message,
        type=type(message).__qualname__,
        insertion_time=_isoformat(message.insertion_time),
        expiration_time=_isoformat(message.expiration_time),
        time_next_visible=_isoformat(message.time_next_visible),
        has_pop_receipt=bool(message.pop_receipt),
    )


@app.queue_trigger(arg_name="message", queue_name="%FLAKY_QUEUE%", connection="AzureWebJobsStorage")
def flaky(message: func.QueueMessage) -> None:
    """Fails on its first two deliveries, succeeds on the third."""
    _record("flaky", message)
    if (message.dequeue_count or 0) < 3:
        raise RuntimeError(f"flaky failure on delivery {message.dequeue_count}")


@app.queue_trigger(arg_name="message", queue_name="%FAILING_QUEUE%", connection="AzureWebJobsStorage")
async def always_fails(message: func.QueueMessage) -> None:
    _record("always_fails", message)
    raise RuntimeError("always fails")


@app.queue_trigger(arg_name="message", queue_name="%SLOW_QUEUE%", connection="AzureWebJobsStorage")
async def slow(message: func.QueueMessage) -> None:
    """Body: {"seconds": [first delivery, second delivery, ...]} or {"gate": path}.

    Sleeps that long on each delivery, or until the gate file exists (at most 30 s).
    """
    order = json.loads(message.get_body())
    _record("slow", message, event="start")
    if "gate" in order:
        gate = order["gate"]
        for _ in range(1500):
            if os.path.exists(gate):  # noqa: ASYNC240  # a stat call; the sample keeps it simple
                break
            await asyncio.sleep(0.02)
    else:
        durations = order["seconds"]
        await asyncio.sleep(durations[min(message.dequeue_count or 1, len(durations)) - 1])
    _record("slow", message, event="end")
