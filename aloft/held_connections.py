"""A database connection each thread keeps for the hottest statements: pings and the dashboard's poll.

Taking a connection from SQLAlchemy's pool costs a checkout, a liveness check
(``pool_pre_ping``: on PostgreSQL a round trip) and a reset when it goes back; for statements
that themselves take a fraction of a millisecond those cost more than the work (measured
in-process on SQLite: 20 µs of the pool's bookkeeping and 25 µs of its ping on a 270 µs ping;
on PostgreSQL a whole round trip more). Instead a thread keeps one DBAPI connection, opened
by the engine (so its ``connect`` events, SQLite's pragmas, apply) and detached from its pool,
between requests:

- It is not checked before use. When the work fails because the connection was lost (the
  database restarted), the connection is thrown away and the work runs once more on a new
  one; any other error rolls the connection back and is raised. The work must therefore be
  one transaction that it commits itself (or a single autocommitted statement).
- One per thread, for the engine it was last asked for: asked for another engine (a test's
  next app), the thread closes the one it has first. ``engine.dispose()`` closes the
  disposing thread's own at once and makes the others' be replaced at their next use.
- A forked child never uses (or closes) its parent's connection.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, event

T = TypeVar("T")

_local = threading.local()
#: Engines whose ``dispose`` this module listens to, and how often each was disposed.
_generations: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()
_generations_lock = threading.Lock()


@dataclass
class _Held:
    fairy: Any  # SQLAlchemy's handle on the connection, detached from its pool
    connection: Any  # the driver's own connection (sqlite3's or psycopg's)
    engine: weakref.ref[Engine]
    generation: int
    pid: int

    def close(self) -> None:
        if self.pid == os.getpid():
            with contextlib.suppress(Exception):  # a connection already broken is closed enough
                self.fairy.close()


def run(engine: Engine, work: Callable[[Any], T]) -> T:
    """``work(connection)`` on this thread's kept connection to ``engine`` (the driver's own: sqlite3's
    or psycopg's, autocommit), retried once on a new connection when the kept one turns out to be lost."""
    for attempt in (1, 2):
        held = _held(engine)
        try:
            return work(held.connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            lost = _is_disconnect(engine, exc, held.connection)
            if lost or not _rolled_back(held.connection):
                _forget(held)
            if not lost or attempt == 2:
                raise
    raise AssertionError("unreachable")


def _held(engine: Engine) -> _Held:
    held: _Held | None = getattr(_local, "held", None)
    generation = _watch(engine)
    if held is not None and held.engine() is engine and (held.generation, held.pid) == (generation, os.getpid()):
        return held
    if held is not None:
        _forget(held)
    fairy = engine.raw_connection()
    connection = fairy.driver_connection
    fairy.detach()
    if engine.dialect.name == "postgresql":
        connection.autocommit = True
    held = _local.held = _Held(fairy, connection, weakref.ref(engine), generation, os.getpid())
    return held


def _forget(held: _Held) -> None:
    held.close()
    if getattr(_local, "held", None) is held:
        _local.held = None


def _watch(engine: Engine) -> int:
    """The engine's dispose count, listening for its disposals from the first time it is seen."""
    with _generations_lock:
        if engine not in _generations:
            _generations[engine] = 0
            event.listen(engine, "engine_disposed", _disposed)
        return _generations[engine]


def _disposed(engine: Engine) -> None:
    with _generations_lock:
        _generations[engine] = _generations.get(engine, 0) + 1
    held: _Held | None = getattr(_local, "held", None)
    if held is not None and held.engine() is engine:
        _forget(held)


def _is_disconnect(engine: Engine, exc: Exception, connection: Any) -> bool:
    try:
        return bool(engine.dialect.is_disconnect(exc, connection, None))
    except Exception:
        return False


def _rolled_back(connection: Any) -> bool:
    try:
        connection.rollback()
    except Exception:
        return False
    return True


def fetch_one(engine: Engine, sql: str, parameters: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """The first row of a read (``?`` placeholders) on the thread's kept connection, as the driver gives
    it (:func:`stored_time` reads its times); on SQLite the read transaction is ended at once."""
    if engine.dialect.name == "postgresql":
        query = sql.replace("?", "%s")
        return run(engine, lambda connection: connection.execute(query, parameters).fetchone())

    def read(connection: Any) -> tuple[Any, ...] | None:
        try:
            return connection.execute(sql, parameters).fetchone()
        finally:
            connection.rollback()

    return run(engine, read)


def stored_time(value: datetime | str | None) -> datetime | None:
    """A time as :func:`fetch_one` gives it (PostgreSQL: aware; SQLite: naive UTC text), aware in UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
