"""A sample app for devhost's timer tests: each function appends a JSON line to $EVIDENCE_PATH."""

import json
import os
import threading
import time
from pathlib import Path

import azure.functions as func

app = func.FunctionApp()

_write_lock = threading.Lock()


def _record(function: str, timer: func.TimerRequest) -> None:
    line = {
        "function": function,
        "at": time.time(),
        "past_due": timer.past_due,
        # Part of the concrete class the worker passes, not of the func.TimerRequest interface.
        "schedule_status": getattr(timer, "schedule_status", None),
        "type": type(timer).__qualname__,
    }
    with _write_lock, Path(os.environ["EVIDENCE_PATH"]).open("a", encoding="utf-8") as evidence:
        evidence.write(json.dumps(line) + "\n")


@app.timer_trigger(schedule="*/1 * * * * *", arg_name="timer")
async def every_second(timer: func.TimerRequest) -> None:
    _record("every_second", timer)


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True, use_monitor=True)
def yearly_and_on_startup(timer: func.TimerRequest) -> None:
    _record("yearly_and_on_startup", timer)


@app.timer_trigger(schedule="%BROKEN_SCHEDULE%", arg_name="timer")
def broken(timer: func.TimerRequest) -> None:
    _record("broken", timer)
    raise RuntimeError("timer failure")


@app.timer_trigger(schedule="00:00:01", arg_name="timer")
async def interval(timer: func.TimerRequest) -> None:
    _record("interval", timer)
