"""The engine's busiest statements, written for each database.

Recording a batch of checks costs a handful of statements whatever the batch's size. On
PostgreSQL a batch's values travel as one JSON document (``json_array_elements``), so the
statement's text is the same for every batch and the driver parses it once: with a
placeholder per value, psycopg parsed a new query text for every batch (a quarter of a
worker's time), and with arrays it spent as long formatting them in Python. Measured per
row on 200-row batches: arrays 18 us in Python and 10 us in PostgreSQL, JSON 5 and 16.
SQLite, in-process, takes the plain forms.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from itertools import chain
from typing import Any

from sqlalchemy import JSON, BigInteger, ColumnElement, Engine, String, Text, bindparam, cast, func, select, text
from sqlalchemy.orm import Session

from aloft.checks import CheckResult
from aloft.models import CheckResult as CheckResultRow
from aloft.models import Monitor
from aloft.models.base import UTCDateTime

RESULTS = CheckResultRow.__table__
MONITORS = Monitor.__table__
CAUSE_LENGTH = RESULTS.c.cause.type.length


def on_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def sqlite_time(moment: datetime) -> str:
    """``moment`` as SQLite stores a :class:`~aloft.models.base.UTCDateTime`: naive UTC, to the microsecond.

    For statements handed to the driver as they are: the text SQLAlchemy's SQLite
    ``DATETIME`` writes, so rows compare equal (and collide in unique indexes) however they
    were written.
    """
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


class SQLiteWriters:
    """SQLite's writers take turns: the threads of a process on a lock, the processes (web workers,
    scheduler, engine workers) on an ``flock`` of a file beside the database (``<database>-writer``).

    SQLite has one writer at a time, and a writer that finds the database locked polls
    with sleeps of 1 ms, then longer, up to 100 ms: a scheduler claiming its next stretch
    beside a busy recorder stalled for seconds, and two web workers taking pings each slept
    while the other committed (measured: a third of a core idle under load). Waiting on a
    lock instead hands the database over the moment the last writer is done. Writers that
    do not come through here still wait as SQLite makes them.
    """

    def __init__(self) -> None:
        self._thread_lock = threading.Lock()
        self._files: dict[tuple[int, str], int] = {}

    def __call__(self, engine: Engine) -> AbstractContextManager[object]:
        path = engine.url.database
        if not path or path == ":memory:" or path.startswith("file:"):
            return self._thread_lock
        return _Turn(self._thread_lock, self._file(os.path.abspath(path)))

    def _file(self, path: str) -> int:
        # Per process: an flock belongs to the open file, which a forked child would share.
        key = (os.getpid(), path)
        descriptor = self._files.get(key)
        if descriptor is None:
            # Read-only is enough to lock it: processes of other users that share the database can too.
            descriptor = self._files[key] = os.open(f"{path}-writer", os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        return descriptor


class _Turn:
    __slots__ = ("_descriptor", "_thread_lock")

    def __init__(self, thread_lock: threading.Lock, descriptor: int) -> None:
        self._thread_lock = thread_lock
        self._descriptor = descriptor

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        try:
            fcntl.flock(self._descriptor, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def __exit__(self, *_exc: object) -> None:
        try:
            fcntl.flock(self._descriptor, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


#: SQLite's writers take turns on it (see :func:`one_writer`).
sqlite_writer = SQLiteWriters()


def one_writer(session: Session) -> AbstractContextManager[object]:
    """On SQLite, the engine's writers take turns (the recorder, the scheduler's claims, pings, the
    pruners, the sender): see :class:`SQLiteWriters`. Nothing on PostgreSQL."""
    return nullcontext() if on_postgresql(session) else sqlite_writer(session.get_bind())


def among(session: Session, column: Any, values: Iterable[str]) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL the values are one JSON parameter."""
    if on_postgresql(session):
        listed = bindparam(None, json.dumps(list(values)), type_=Text)
        return column.in_(select(func.json_array_elements_text(cast(listed, JSON))))
    return column.in_(list(values))


_RESULTS_FROM_JSON = text(
    "INSERT INTO check_results (monitor_id, checked_at, ok, latency_ms, cause, details) "
    "SELECT given->>0, CAST(given->>1 AS TIMESTAMPTZ), CAST(given->>2 AS BOOLEAN), "
    "CAST(given->>3 AS DOUBLE PRECISION), given->>4, "
    "CASE WHEN json_typeof(given->5) = 'null' THEN NULL ELSE given->5 END "
    "FROM json_array_elements(CAST(:rows AS JSON)) AS given "
    "ON CONFLICT (monitor_id, checked_at) DO NOTHING "
    "RETURNING id, monitor_id, checked_at"
).columns(id=BigInteger, monitor_id=String, checked_at=UTCDateTime)

_STATES_FROM_JSON = text(
    "UPDATE monitors SET status = given->>1, consecutive_failures = CAST(given->>2 AS INTEGER), "
    "last_checked_at = CAST(given->>3 AS TIMESTAMPTZ) "
    "FROM json_array_elements(CAST(:states AS JSON)) AS given "
    "WHERE monitors.id = given->>0"
)

_STATES_SQLITE = "UPDATE monitors SET status = ?, consecutive_failures = ?, last_checked_at = ? WHERE id = ?"
_CHECKED_SQLITE = "UPDATE monitors SET last_checked_at = ? WHERE id = ?"


def insert_results(
    session: Session, rows: Sequence[tuple[str, datetime, CheckResult]]
) -> dict[tuple[str, datetime], int]:
    """Store results once per (monitor, slot); returns the ids of the rows actually inserted.

    A slot stored before (a replayed job) is skipped by the unique index, not raised on.
    """
    if not rows:
        return {}
    if on_postgresql(session):
        given = [
            [monitor_id, checked_at.isoformat(), result.ok, result.latency_ms, _cause(result), result.details or None]
            for monitor_id, checked_at, result in rows
        ]
        inserted = session.execute(_RESULTS_FROM_JSON, {"rows": json.dumps(given)})
    else:
        return _insert_results_sqlite(session, rows)
    return {(monitor_id, checked_at): row_id for row_id, monitor_id, checked_at in inserted}


#: Rows per INSERT on SQLite (six parameters each, well under its limit of 32,766).
SQLITE_RESULTS_PER_INSERT = 1000
_RESULTS_SQLITE = (
    "INSERT INTO check_results (monitor_id, checked_at, ok, latency_ms, cause, details) VALUES {rows} "
    "ON CONFLICT (monitor_id, checked_at) DO NOTHING RETURNING id, monitor_id, checked_at"
)


def _insert_results_sqlite(
    session: Session, rows: Sequence[tuple[str, datetime, CheckResult]]
) -> dict[tuple[str, datetime], int]:
    # Values go to the driver as they are stored (see sqlite_time): SQLAlchemy's handling of
    # each parameter of each row cost more than SQLite's inserting them.
    stored_as: dict[tuple[str, str], datetime] = {}
    values = []
    for monitor_id, checked_at, result in rows:
        stored = sqlite_time(checked_at)
        stored_as[(monitor_id, stored)] = checked_at
        details = json.dumps(result.details or None)  # None as JSON null, as SQLAlchemy's JSON stores it
        values.append((monitor_id, stored, result.ok, result.latency_ms, _cause(result), details))
    connection = session.connection()
    inserted: dict[tuple[str, datetime], int] = {}
    for start in range(0, len(values), SQLITE_RESULTS_PER_INSERT):
        chunk = values[start : start + SQLITE_RESULTS_PER_INSERT]
        statement = _RESULTS_SQLITE.format(rows=", ".join(["(?, ?, ?, ?, ?, ?)"] * len(chunk)))
        for row_id, monitor_id, stored in connection.exec_driver_sql(statement, tuple(chain.from_iterable(chunk))):
            inserted[(monitor_id, stored_as[(monitor_id, stored)])] = row_id
    return inserted


def update_monitor_states(session: Session, states: Sequence[tuple[str, str, int, datetime | None, bool]]) -> None:
    """Write ``(monitor_id, status, consecutive_failures, last_checked_at, state_changed)`` onto each monitor.

    ``state_changed`` says whether status or consecutive failures differ from the row's:
    on SQLite, assigning ``status`` at all rewrites its index entry and wakes the state
    version trigger, which made the usual update (a time, nothing else) three times dearer.
    """
    if not states:
        return
    if on_postgresql(session):
        given = [
            [monitor_id, status, failures, None if checked_at is None else checked_at.isoformat()]
            for monitor_id, status, failures, checked_at, _ in states
        ]
        session.execute(_STATES_FROM_JSON, {"states": json.dumps(given)})
        return
    connection = session.connection()
    changed = [
        (status, failures, None if checked_at is None else sqlite_time(checked_at), monitor_id)
        for monitor_id, status, failures, checked_at, state_changed in states
        if state_changed
    ]
    if changed:
        connection.exec_driver_sql(_STATES_SQLITE, changed)
    checked = [
        (None if checked_at is None else sqlite_time(checked_at), monitor_id)
        for monitor_id, _, _, checked_at, state_changed in states
        if not state_changed
    ]
    if checked:
        connection.exec_driver_sql(_CHECKED_SQLITE, checked)


def _cause(result: CheckResult) -> str | None:
    return (result.cause or None) and result.cause[:CAUSE_LENGTH]
