"""Durable state in one SQLite file: instances, histories, pending messages, activities and timers.

Every change that must not be half-done happens in one transaction (``DurableStore.transaction``):
an orchestrator episode appends its history events, consumes its messages and enqueues the work it
started together; an activity's completion deletes the activity and enqueues its result together;
a timer fires by turning into a message in the same way. A host killed at any moment therefore
restarts from a consistent state: pending messages are replayed, pending activities run again,
timers still fire.

Tables:
- ``instances``: one row per instance id (the current execution), with its runtime status, input,
  output, custom status and the sequencer's numbering state.
- ``history``: the current execution's history events, in order.
- ``inbox``: messages for an instance not yet seen by its orchestrator (completions, timer firings,
  raised events, ExecutionStarted) and control requests (terminate, suspend, resume). An instance
  with messages is an orchestrator work item.
- ``activities``: activity executions to run; ``timers``: durable timers waiting to fire.

All access happens on the event loop's thread through one connection. WAL with synchronous=NORMAL
survives a killed process (only an OS crash could lose the last commits), which is what a
development host needs; the exclusive lock keeps a second devhost off the same file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devhost.durable.history import HistoryEvent
from devhost.errors import StartupError

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    runtime_status TEXT NOT NULL,
    input TEXT,
    output TEXT,
    custom_status TEXT,
    created_time TEXT NOT NULL,
    last_updated_time TEXT NOT NULL,
    parent_instance_id TEXT,
    parent_execution_id TEXT,
    parent_task_id INTEGER,
    sequencer TEXT
);
CREATE TABLE IF NOT EXISTS history (
    instance_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (instance_id, position)
);
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_by_instance ON inbox (instance_id, id);
CREATE TABLE IF NOT EXISTS activities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    input TEXT,
    UNIQUE (instance_id, execution_id, task_id)
);
CREATE TABLE IF NOT EXISTS timers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    timer_id INTEGER NOT NULL,
    fire_at TEXT NOT NULL,
    due REAL NOT NULL,
    UNIQUE (instance_id, execution_id, timer_id)
);
CREATE INDEX IF NOT EXISTS timers_by_due ON timers (due);
"""

# Inbox message kinds. EVENT carries a history event; the others are control requests.
EVENT = "event"
TERMINATE = "terminate"
SUSPEND = "suspend"
RESUME = "resume"

PENDING = "Pending"
RUNNING = "Running"
SUSPENDED = "Suspended"
COMPLETED = "Completed"
FAILED = "Failed"
TERMINATED = "Terminated"
CONTINUED_AS_NEW = "ContinuedAsNew"
TERMINAL_STATUSES = frozenset({COMPLETED, FAILED, TERMINATED, "Canceled"})


@dataclass(frozen=True)
class Instance:
    instance_id: str
    name: str
    version: str
    execution_id: str
    runtime_status: str
    input: str | None  # JSON text, as in ExecutionStarted.Input
    output: str | None  # JSON text
    custom_status: str | None  # JSON text
    created_time: str
    last_updated_time: str
    parent_instance_id: str | None
    parent_execution_id: str | None
    parent_task_id: int | None
    sequencer: str | None

    @property
    def is_terminal(self) -> bool:
        return self.runtime_status in TERMINAL_STATUSES


@dataclass(frozen=True)
class Message:
    id: int
    instance_id: str
    execution_id: str | None  # None: for whichever execution is current
    kind: str
    payload: Any  # a history event for EVENT, the reason text otherwise


@dataclass(frozen=True)
class ActivityWork:
    id: int
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None


@dataclass(frozen=True)
class DueTimer:
    id: int
    instance_id: str
    execution_id: str
    timer_id: int
    fire_at: str


@dataclass(frozen=True)
class InstanceQuery:
    created_from: str | None = None
    created_to: str | None = None
    statuses: frozenset[str] = frozenset()
    prefix: str | None = None


class DurableStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
        self._db = sqlite3.connect(path, isolation_level=None, timeout=1.0)
        try:
            self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            # executescript commits by itself; every statement in it is idempotent.
            self._db.executescript(_SCHEMA)
            with self.transaction():
                self._check_version()
        except sqlite3.OperationalError as exc:
            self._db.close()
            if "locked" in str(exc):
                raise StartupError(f"{path} is in use by another process (another devhost?)") from exc
            raise StartupError(f"cannot open the durable store {path}: {exc}") from exc

    def _check_version(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version == 0:
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        elif version != SCHEMA_VERSION:
            raise StartupError(
                f"{self.path} was written by another devhost version (schema {version}); "
                "delete it to start over"
            )

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All statements inside commit together or not at all."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # Reads

    def instance(self, instance_id: str) -> Instance | None:
        row = self._db.execute("SELECT * FROM instances WHERE instance_id = ?", (instance_id,)).fetchone()
        return None if row is None else Instance(*row)

    def instances(self, query: InstanceQuery) -> list[Instance]:
        clauses: list[str] = []
        parameters: list[str | int] = []
        if query.created_from:
            clauses.append("created_time >= ?")
            parameters.append(query.created_from)
        if query.created_to:
            clauses.append("created_time <= ?")
            parameters.append(query.created_to)
        if query.statuses:
            clauses.append(f"runtime_status IN ({', '.join('?' * len(query.statuses))})")
            parameters.extend(sorted(query.statuses))
        if query.prefix:
            clauses.append("substr(instance_id, 1, ?) = ?")
            parameters.extend([len(query.prefix), query.prefix])
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._db.execute(
            f"SELECT * FROM instances {where} ORDER BY created_time, instance_id",  # noqa: S608 (fixed clauses)
            parameters,
        )
        return [Instance(*row) for row in rows]

    def history(self, instance_id: str) -> list[HistoryEvent]:
        rows = self._db.execute(
            "SELECT event FROM history WHERE instance_id = ? ORDER BY position", (instance_id,)
        )
        return [json.loads(text) for (text,) in rows]

    def messages(self, instance_id: str) -> list[Message]:
        rows = self._db.execute(
            "SELECT id, instance_id, execution_id, kind, payload FROM inbox "
            "WHERE instance_id = ? ORDER BY id",
            (instance_id,),
        )
        return [Message(id_, iid, eid, kind, json.loads(payload)) for id_, iid, eid, kind, payload in rows]

    def instances_with_messages(self) -> list[str]:
        """Instances with work for their orchestrator, oldest message first.

        A suspended instance only counts once it is asked to resume or terminate; its other
        messages wait.
        """
        rows = self._db.execute(
            f"""
            SELECT m.instance_id FROM inbox m LEFT JOIN instances i ON i.instance_id = m.instance_id
            WHERE i.runtime_status IS NULL OR i.runtime_status != '{SUSPENDED}'
               OR m.kind IN ('{RESUME}', '{TERMINATE}')
            GROUP BY m.instance_id ORDER BY MIN(m.id)
            """  # noqa: S608 (constants only)
        )
        return [instance_id for (instance_id,) in rows]

    def activities(self, limit: int, exclude: Sequence[int] = ()) -> list[ActivityWork]:
        excluded = set(exclude)
        rows = self._db.execute(
            "SELECT id, instance_id, execution_id, task_id, name, input FROM activities ORDER BY id LIMIT ?",
            (limit + len(excluded),),
        )
        return [ActivityWork(*row) for row in rows if row[0] not in excluded][:limit]

    def next_timer_due(self) -> float | None:
        (due,) = self._db.execute("SELECT MIN(due) FROM timers").fetchone()
        return None if due is None else float(due)

    def due_timers(self, now: float) -> list[DueTimer]:
        rows = self._db.execute(
            "SELECT id, instance_id, execution_id, timer_id, fire_at FROM timers WHERE due <= ? ORDER BY due",
            (now,),
        )
        return [DueTimer(*row) for row in rows]

    # Writes; call inside transaction()

    def put_instance(self, instance: Instance) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO instances VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                instance.instance_id,
                instance.name,
                instance.version,
                instance.execution_id,
                instance.runtime_status,
                instance.input,
                instance.output,
                instance.custom_status,
                instance.created_time,
                instance.last_updated_time,
                instance.parent_instance_id,
                instance.parent_execution_id,
                instance.parent_task_id,
                instance.sequencer,
            ),
        )

    def append_history(self, instance_id: str, events: Sequence[HistoryEvent]) -> None:
        (count,) = self._db.execute(
            "SELECT COUNT(*) FROM history WHERE instance_id = ?", (instance_id,)
        ).fetchone()
        self._db.executemany(
            "INSERT INTO history (instance_id, position, event) VALUES (?, ?, ?)",
            [(instance_id, count + offset, json.dumps(item)) for offset, item in enumerate(events)],
        )

    def enqueue(self, instance_id: str, kind: str, payload: Any, execution_id: str | None = None) -> None:
        self._db.execute(
            "INSERT INTO inbox (instance_id, execution_id, kind, payload) VALUES (?, ?, ?, ?)",
            (instance_id, execution_id, kind, json.dumps(payload)),
        )

    def delete_messages(self, ids: Sequence[int]) -> None:
        self._db.executemany("DELETE FROM inbox WHERE id = ?", [(id_,) for id_ in ids])

    def add_activity(
        self, instance_id: str, execution_id: str, task_id: int, name: str, input_text: str | None
    ) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO activities (instance_id, execution_id, task_id, name, input) "
            "VALUES (?, ?, ?, ?, ?)",
            (instance_id, execution_id, task_id, name, input_text),
        )

    def delete_activity(self, activity_id: int) -> bool:
        """False when it was already gone (its instance was terminated, purged or restarted)."""
        return self._db.execute("DELETE FROM activities WHERE id = ?", (activity_id,)).rowcount == 1

    def add_timer(self, instance_id: str, execution_id: str, timer_id: int, fire_at: str, due: float) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO timers (instance_id, execution_id, timer_id, fire_at, due) "
            "VALUES (?, ?, ?, ?, ?)",
            (instance_id, execution_id, timer_id, fire_at, due),
        )

    def delete_timer(self, timer_row_id: int) -> None:
        self._db.execute("DELETE FROM timers WHERE id = ?", (timer_row_id,))

    def cancel_timers(self, instance_id: str, execution_id: str, timer_ids: Sequence[int]) -> None:
        self._db.executemany(
            "DELETE FROM timers WHERE instance_id = ? AND execution_id = ? AND timer_id = ?",
            [(instance_id, execution_id, timer_id) for timer_id in timer_ids],
        )

    def clear_execution(self, instance_id: str) -> None:
        """Forget the current execution's history and the work it still had pending."""
        for table in ("history", "activities", "timers"):
            self._db.execute(f"DELETE FROM {table} WHERE instance_id = ?", (instance_id,))  # noqa: S608

    def clear_pending(self, instance_id: str) -> None:
        """Drop the work a finished instance no longer needs: messages, activities, timers."""
        for table in ("inbox", "activities", "timers"):
            self._db.execute(f"DELETE FROM {table} WHERE instance_id = ?", (instance_id,))  # noqa: S608

    def delete_instance(self, instance_id: str) -> None:
        self.clear_execution(instance_id)
        self.clear_pending(instance_id)
        self._db.execute("DELETE FROM instances WHERE instance_id = ?", (instance_id,))
