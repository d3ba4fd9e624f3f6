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

import json
import threading
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ColumnElement, String, Text, bindparam, cast, func, select, text, update
from sqlalchemy.dialects import sqlite
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


_sqlite_writer = threading.Lock()


def one_writer(session: Session) -> AbstractContextManager[object]:
    """On SQLite, the engine's writers in this process take turns (the recorder, the scheduler's claims).

    SQLite has one writer at a time, and a writer that finds the database locked polls
    with sleeps of up to 100 ms: a scheduler claiming its next stretch beside a busy
    recorder stalled for seconds. Waiting on a lock of this process instead hands the
    database over the moment the last writer commits.
    """
    return nullcontext() if on_postgresql(session) else _sqlite_writer


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

_STATE_UPDATE = (
    update(MONITORS)
    .where(MONITORS.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        consecutive_failures=bindparam("b_failures"),
        last_checked_at=bindparam("b_checked_at"),
    )
)


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
        # One statement, compiled once per process, takes every row ("insertmanyvalues").
        statement = (
            sqlite.insert(RESULTS)
            .on_conflict_do_nothing(index_elements=["monitor_id", "checked_at"])
            .returning(RESULTS.c.id, RESULTS.c.monitor_id, RESULTS.c.checked_at)
        )
        inserted = session.execute(
            statement,
            [
                {
                    "monitor_id": monitor_id,
                    "checked_at": checked_at,
                    "ok": result.ok,
                    "latency_ms": result.latency_ms,
                    "cause": _cause(result),
                    "details": result.details or None,
                }
                for monitor_id, checked_at, result in rows
            ],
        )
    return {(monitor_id, checked_at): row_id for row_id, monitor_id, checked_at in inserted}


def update_monitor_states(session: Session, states: Sequence[tuple[str, str, int, datetime | None]]) -> None:
    """Write ``(monitor_id, status, consecutive_failures, last_checked_at)`` onto each monitor."""
    if not states:
        return
    if on_postgresql(session):
        given = [
            [monitor_id, status, failures, None if checked_at is None else checked_at.isoformat()]
            for monitor_id, status, failures, checked_at in states
        ]
        session.execute(_STATES_FROM_JSON, {"states": json.dumps(given)})
    else:
        session.execute(
            _STATE_UPDATE,
            [
                {"b_id": monitor_id, "b_status": status, "b_failures": failures, "b_checked_at": checked_at}
                for monitor_id, status, failures, checked_at in states
            ],
        )


def _cause(result: CheckResult) -> str | None:
    return (result.cause or None) and result.cause[:CAUSE_LENGTH]
