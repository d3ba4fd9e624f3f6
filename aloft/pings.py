"""Pings: how passive monitors hear from the jobs they watch.

A monitor of a passive type gets a secret token; its ping URL is ``<ALOFT_BASE_URL>/heartbeat/<token>``.
The plugin that serves that route hands each ping to :func:`record_ping`, which stores it and
moves the monitor's deadline on (see :mod:`aloft.engine.heartbeats`). This is the hottest
public path Aloft has, so the usual ping (a success for a monitor that is up) is
:func:`take_usual_ping`: one guarded update by token that notes the ping's time (the stored
deadline is left to lag it: the deadline sweep moves it on), one count of the token's pings
of the last minute (its rate limit) and one insert, one statement on PostgreSQL; the
plugin's WSGI middleware calls it before Flask sees the request. Only a ping that changes
the monitor's state (a first success, a recovery, a failure report, a start) goes through
the state machine, at once and in the same transaction, with the notifications it
causes. Old pings are pruned in batches by the scheduler's pruner (:func:`prune_pings`), never per ping.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Engine, Row, bindparam, delete, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from aloft import held_connections
from aloft.checks import CheckResult, CheckType
from aloft.engine.heartbeats import (
    Runs,
    deadline_after_run,
    deadline_after_start,
    first_deadline,
)
from aloft.engine.jobs import notify_observers, record_results
from aloft.engine.statements import one_writer, sqlite_time, sqlite_writer
from aloft.extensions import db
from aloft.models import PING_KINDS, Monitor, Ping, utcnow
from aloft.models.heartbeat import BODY_LIMIT
from aloft.notify.dispatch import sender

#: Where pings are received: ``<PING_PATH>/<token>``, ``…/start``, ``…/fail`` and ``…/<exit status>``.
PING_PATH = "/heartbeat"
#: 24 random bytes: 192 bits, written as 32 URL-safe characters.
TOKEN_BYTES = 24
#: Pings kept per monitor; the pruner deletes older ones.
PINGS_KEPT = 100
#: Bytes of a ping's body that are kept (10 KB); a longer body is cut and the ping marked.
BODY_EXCERPT_BYTES = BODY_LIMIT
SOURCE_IP_CHARS = Ping.__table__.c.source_ip.type.length
USER_AGENT_CHARS = Ping.__table__.c.user_agent.type.length
RID_CHARS = Ping.__table__.c.rid.type.length
TOKEN_CHARS = Monitor.__table__.c.ping_token.type.length
#: What a token can look like: URL-safe base64 (what ``token_urlsafe`` writes) that fits its column.
TOKEN_FORM = re.compile(rf"[A-Za-z0-9_-]{{1,{TOKEN_CHARS}}}")
FAILURE_REPORTED = "Job reported failure"

PINGS = Ping.__table__
MONITORS = Monitor.__table__


#: The moving window pings are counted in, per token: never more than the limit in any such stretch.
PING_WINDOW = timedelta(seconds=60)


@dataclass(frozen=True)
class Window:
    """A token's count: ``limit`` pings a :data:`PING_WINDOW`, ``counted`` taken in the window that ends
    now (this ping included when it was taken), the oldest of them at ``oldest``."""

    limit: int
    counted: int
    oldest: datetime

    @property
    def remaining(self) -> int:
        return max(self.limit - self.counted, 0)

    @property
    def resets_at(self) -> datetime:
        """When the oldest counted ping leaves the window, freeing a place."""
        return self.oldest + PING_WINDOW


@dataclass(frozen=True)
class Recorded:
    """A stored ping: its id, its run time when it ended a run whose start was pinged, and its token's count."""

    id: int
    duration_ms: int | None = None
    window: Window | None = None


@dataclass(frozen=True)
class Refused:
    """A ping not taken: its token had its limit of pings in the window that ends now."""

    window: Window


def new_ping_token() -> str:
    """An unguessable token for a ping URL."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def ping_url(base_url: str, token: str | None) -> str | None:
    """The URL a job pings, or None for a monitor that receives no pings."""
    return f"{base_url}{PING_PATH}/{token}" if token else None


def expect_pings(monitor: Monitor, check_type: type[CheckType], *, restart: bool = False) -> None:
    """Give a monitor of a passive type a ping token, once, and the deadline it awaits; take both
    away when its type reaches out, and the deadline while it is paused.

    A new token starts afresh: silence counts from now, and pings of an earlier spell as a
    passive monitor no longer count. ``restart`` (an unpause) counts silence from now too.
    """
    passive = check_type.passive
    if passive != (monitor.ping_token is not None):
        monitor.ping_token = new_ping_token() if passive else None
        monitor.ping_token_issued_at = utcnow() if passive else None
        monitor.last_ping_at = None
        monitor.last_ping_kind = None
        monitor.last_started_at = None
        # Uptime counts from the first result of this spell: its checks and incidents before are another story.
        monitor.first_result_at = None
    if not passive or monitor.paused:
        monitor.next_deadline_at = None
        return
    if restart:
        monitor.ping_token_issued_at = utcnow()
        monitor.last_ping_at = monitor.last_started_at = None
    runs = Runs(monitor.ping_token_issued_at, monitor.last_ping_at, monitor.last_started_at)
    monitor.next_deadline_at = first_deadline(check_type, monitor.settings or {}, monitor.interval_seconds, runs)


def is_ping_token(token: str) -> bool:
    """True when a monitor has this ping token; a token of no possible form is not looked up."""
    return _known(token)


#: Tokens this process has seen a monitor have; forgotten all at once when there are KNOWN_MAX.
_KNOWN: set[str] = set()
KNOWN_MAX = 200_000


def _known(token: str, engine: Engine | None = None) -> bool:
    """Whether a monitor has this token: from memory, or else from the database (then remembered), read
    on the thread's kept connection (through the session, the lookup cost more than a ping's statements)."""
    if token in _KNOWN:
        return True
    if TOKEN_FORM.fullmatch(token) is None:
        return False
    found = held_connections.fetch_one(engine or db.engine, _TOKEN_EXISTS, (token,)) is not None
    _keep(token, found)
    return found


_TOKEN_EXISTS = "SELECT 1 FROM monitors WHERE ping_token = ?"


def _look_up(token: str) -> Row[Any] | None:
    """The monitor's row as a ping needs it, read now; remembered for later pings of the token."""
    row = db.session.execute(_MONITOR_BY_TOKEN, {"b_token": token}).first()
    _keep(token, row is not None)
    return row


def _keep(token: str, found: bool) -> None:
    """Remember whether a monitor has ``token``."""
    if not found:
        _KNOWN.discard(token)
        return
    if len(_KNOWN) >= KNOWN_MAX:
        _KNOWN.clear()
    _KNOWN.add(token)


_MONITOR_BY_TOKEN = select(
    MONITORS.c.id,
    MONITORS.c.type,
    MONITORS.c.settings,
    MONITORS.c.interval_seconds,
    MONITORS.c.paused,
    MONITORS.c.last_ping_at,
    MONITORS.c.last_started_at,
).where(MONITORS.c.ping_token == bindparam("b_token"))

_INSERT_PING = insert(PINGS).returning(PINGS.c.id)
#: A write that changes nothing (no ``onupdate``: a text statement), for its lock.
_LOCK_MONITOR = text("UPDATE monitors SET id = id WHERE id = :b_id")
_COUNT = select(func.count(), func.min(PINGS.c.received_at)).where(
    PINGS.c.monitor_id == bindparam("b_id"), PINGS.c.received_at >= bindparam("b_since")
)

#: The usual ping: a success for a monitor that is up, counts no failures, is not paused and has no run
#: under way. It notes the ping and nothing else: the deadline stored on the row is left where it
#: was, and the sweep finds the later one from ``last_ping_at`` (see :mod:`aloft.engine.heartbeats`).
_QUIET_SUCCESS = (
    "UPDATE monitors SET last_ping_at = ?, last_ping_kind = 'success' "
    "WHERE ping_token = ? AND status = 'up' AND consecutive_failures = 0 AND paused = 0 "
    "AND (last_started_at IS NULL OR last_started_at <= last_ping_at) AND (last_ping_at IS NULL OR last_ping_at <= ?) "
    "RETURNING id"
)
_PING_COLUMNS = (
    "monitor_id",
    "received_at",
    "kind",
    "method",
    "source_ip",
    "user_agent",
    "body",
    "body_truncated",
    "exit_status",
    "duration_ms",
    "rid",
)
_INSERT_PING_SQL = (
    f"INSERT INTO pings ({', '.join(_PING_COLUMNS)}) VALUES ({', '.join('?' * len(_PING_COLUMNS))}) RETURNING id"
)


def _quiet_success(
    engine: Engine, token: str, values: dict[str, Any], per_minute: int | None
) -> Recorded | Refused | None:
    """Take the usual ping on the driver's own connection; None, having written nothing, when it is not the
    usual ping.

    The statement names the monitor by its token and writes only ``last_ping_at``: nothing the
    process remembers is needed, so a token's first ping in a process costs what its others do,
    and on PostgreSQL the update changes no indexed column (a HOT update, no index touched).

    With ``per_minute``, the ping is counted against its token in the same transaction, under
    the monitor's row lock (PostgreSQL) or the database's write lock (SQLite), so that two
    web workers never both take the last place in a window: the token's pings of the last
    :data:`PING_WINDOW` are the pings table's own rows, counted through its index on
    ``monitor_id``; a ping refused is not stored and not counted.

    The statements go to the driver as they are (times as each database stores them, see
    :func:`~aloft.engine.statements.sqlite_time`): through the ORM session, building and
    running them cost more than the database's work (measured: 1.6 ms a ping in-process
    against 0.26 ms for ``/api/v1/health``). On PostgreSQL the monitor's row lock, the count
    (a new snapshot, which sees every ping committed before the lock was granted), the update
    and the insert are one call of ``aloft_usual_ping`` (migration 0015): one statement, one
    round trip, one transaction. Its commit does not wait for the WAL to reach the disk
    (``synchronous_commit`` off for it alone): a ping answered in the last fraction of a
    second before the database server itself crashes may be lost, and nothing else can be.
    """
    now = values["received_at"]
    since = now - PING_WINDOW
    if engine.dialect.name == "postgresql":
        arguments = (
            token,
            now,
            since,
            per_minute,
            *[values[name] for name in ("method", "source_ip", "user_agent", "body", "body_truncated", "exit_status")],
        )
        return held_connections.run(
            engine, lambda connection: _quiet_success_postgresql(connection, arguments, per_minute, now)
        )
    stored_now = sqlite_time(now)
    quiet = (stored_now, token, stored_now)
    ping = (stored_now, *[values[name] for name in _PING_COLUMNS[2:]])
    counting = None if per_minute is None else (per_minute, sqlite_time(since), now)
    with sqlite_writer(engine):
        return held_connections.run(engine, lambda connection: _quiet_success_sqlite(connection, quiet, ping, counting))


def _quiet_success_sqlite(
    connection: Any, quiet: tuple[Any, ...], ping: tuple[Any, ...], counting: tuple[int, str, datetime] | None
) -> Recorded | Refused | None:
    cursor = connection.cursor()
    try:
        # The update takes SQLite's write lock before it reads: the count below cannot miss
        # a ping another process is taking for the same token.
        row = cursor.execute(_QUIET_SUCCESS, quiet).fetchone()
        if row is None:
            connection.rollback()
            return None
        monitor_id = row[0]
        window = None
        if counting is not None:
            per_minute, since, now = counting
            counted, oldest = cursor.execute(_COUNT_SQL, (monitor_id, since)).fetchone()
            if counted >= per_minute:
                connection.rollback()
                return Refused(_window(per_minute, counted, oldest, now))
            window = _window(per_minute, counted + 1, oldest, now)
        cursor.execute(_INSERT_PING_SQL, (monitor_id, *ping))
        ping_id = cursor.fetchone()[0]
        connection.commit()
        return Recorded(int(ping_id), window=window)
    except BaseException:
        connection.rollback()  # the kept connection must not keep the write lock
        raise
    finally:
        cursor.close()


_COUNT_SQL = "SELECT count(*), min(received_at) FROM pings WHERE monitor_id = ? AND received_at >= ?"

#: The usual ping on PostgreSQL: one call of the function migration 0015 defines (same conditions as above).
_QUIET_PING_POSTGRESQL = "SELECT ping_id, counted, oldest FROM aloft_usual_ping(" + ", ".join(["%s"] * 10) + ")"


def _quiet_success_postgresql(
    driver: Any, arguments: tuple[Any, ...], per_minute: int | None, now: datetime
) -> Recorded | Refused | None:
    """The lock, the count, the update and the insert in one statement (autocommitted: one transaction),
    committed without waiting for the WAL flush."""
    ping_id, counted, oldest = driver.execute(_QUIET_PING_POSTGRESQL, arguments).fetchone()
    if counted is None:
        return None  # no monitor has the token
    window = None if per_minute is None else _window(per_minute, counted + (ping_id is not None), oldest, now)
    if ping_id is not None:
        return Recorded(int(ping_id), window=window)
    if window is not None and counted >= per_minute:
        return Refused(window)
    return None


def _window(per_minute: int, counted: int, oldest: datetime | str | None, now: datetime) -> Window:
    """A token's window from its count; ``oldest`` as the database gives it (SQLite: text, naive UTC)."""
    if isinstance(oldest, str):
        oldest = datetime.fromisoformat(oldest).replace(tzinfo=UTC)
    return Window(per_minute, counted, oldest or now)


def ping_values(
    now: datetime,
    kind: str,
    method: str | None,
    source_ip: str | None,
    user_agent: str | None,
    body: str | None,
    body_truncated: bool,
    exit_status: int | None,
    rid: str | None,
) -> dict[str, Any]:
    """A ping's columns but its monitor's id and its run time, cut to fit."""
    return {
        "received_at": now,
        "kind": kind,
        "method": method,
        "source_ip": _excerpt(source_ip, SOURCE_IP_CHARS),
        "user_agent": _excerpt(user_agent, USER_AGENT_CHARS),
        "body": _clean(body) if body else None,
        "body_truncated": body_truncated,
        "exit_status": exit_status,
        "duration_ms": None,
        "rid": rid,
    }


def take_usual_ping(
    engine: Engine, token: str, values: dict[str, Any], per_minute: int | None
) -> Recorded | Refused | None:
    """Take a success ping (``values`` from :func:`ping_values`, without a ``rid``) as the usual ping: one
    statement, no session, no app context, nothing remembered.

    None, having written nothing, when it is not the usual ping (a token no monitor has, a
    monitor that is pending, down, paused, counting failures or running): then
    :func:`record_ping` takes it the long way.
    """
    if TOKEN_FORM.fullmatch(token) is None:
        return None
    if engine.dialect.name == "sqlite" and not _known(token, engine):
        return None  # a token no monitor has: a guess never takes SQLite's write lock
    return _quiet_success(engine, token, values, per_minute)


def record_ping(
    token: str,
    kind: str,
    *,
    method: str | None = None,
    source_ip: str | None = None,
    user_agent: str | None = None,
    body: str | None = None,
    body_truncated: bool = False,
    exit_status: int | None = None,
    rid: str | None = None,
    per_minute: int | None = None,
) -> Recorded | Refused | None:
    """Store a ping for the monitor whose token this is and act on it; None when no monitor has the token.

    With ``per_minute``, the ping is taken only if fewer than that many were taken for the token
    in the last :data:`PING_WINDOW` (:class:`Refused` otherwise, and nothing is stored): the
    count is kept by the pings themselves, in the transaction that stores this one, so it holds
    across every web worker without a storage of its own.

    ``kind`` is ``success``, ``fail`` or ``start``. A start reports no outcome: the run it
    begins must end within the grace. A success makes the monitor ``up`` and resolves its
    incident at once; a failure (``fail``, or a non-zero ``exit_status``) is a failed run at
    once. ``rid`` pairs a start with its finish when runs overlap.
    """
    if kind not in PING_KINDS:
        raise ValueError(f"unknown ping kind {kind!r}; expected one of {', '.join(PING_KINDS)}")
    if TOKEN_FORM.fullmatch(token) is None:
        return None  # no token has this form: nothing to look up
    session = db.session
    check_types = current_app.extensions["aloft.plugins"].check_types
    now = utcnow()
    rid = rid[:RID_CHARS] if rid else None
    values = ping_values(now, kind, method, source_ip, user_agent, body, body_truncated, exit_status, rid)
    if kind == "success" and rid is None:
        taken = take_usual_ping(db.engine, token, values, per_minute)
        if taken is not None:
            return taken
    monitor = _look_up(token)
    if monitor is None:
        session.rollback()
        return None
    check_type = check_types.get(monitor.type)
    duration_ms = None if kind == "start" else _duration_ms(session, monitor, rid, now)
    values.update(monitor_id=monitor.id, duration_ms=duration_ms)
    with one_writer(session):
        window = None
        if per_minute is not None:
            # A write first: the monitor's row lock (PostgreSQL) or the write lock (SQLite), held to the
            # commit, so that the count sees every ping taken before this one.
            session.execute(_LOCK_MONITOR, {"b_id": monitor.id})
            counted, oldest = session.execute(_COUNT, {"b_id": monitor.id, "b_since": now - PING_WINDOW}).one()
            if counted >= per_minute:
                session.rollback()
                return Refused(_window(per_minute, counted, oldest, now))
            window = _window(per_minute, counted + 1, oldest, now)
        ping_id = session.execute(_INSERT_PING, values).scalar_one()
        if kind == "start":
            _started(session, monitor, check_type, now)
            session.commit()
            return Recorded(ping_id, window=window)
        if kind == "success" and _ended(session, monitor, check_type, kind, now, quietly=True):
            session.commit()  # a monitor that was up stays up
            return Recorded(ping_id, duration_ms, window)
        _ended(session, monitor, check_type, kind, now, quietly=False)
        result = _result(kind, exit_status, ping_id, duration_ms)
        report, transitions = record_results([(monitor.id, int(now.timestamp() * 1000), result)])
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    sender(app).submit(report.deliveries)
    notify_observers(app, [], transitions)
    return Recorded(ping_id, duration_ms, window)


def _started(session: Session, monitor: Row[Any], check_type: type[CheckType] | None, now: datetime) -> None:
    values: dict[str, object] = {"last_started_at": now}
    if check_type is not None and not monitor.paused:
        values["next_deadline_at"] = deadline_after_start(check_type, monitor.settings or {}, now)
    session.execute(
        update(MONITORS)
        .where(
            MONITORS.c.id == monitor.id,
            or_(MONITORS.c.last_started_at.is_(None), MONITORS.c.last_started_at <= now),
        )
        .values(values)
    )


def _ended(
    session: Session, monitor: Row[Any], check_type: type[CheckType] | None, kind: str, now: datetime, *, quietly: bool
) -> bool:
    """Note a run that ended at ``now`` on the monitor; with ``quietly``, only if that changes nothing else
    (the monitor is up with no failures counted). Returns whether the monitor was written."""
    values: dict[str, object] = {"last_ping_at": now, "last_ping_kind": kind}
    if check_type is not None and not monitor.paused:
        values["next_deadline_at"] = deadline_after_run(
            check_type,
            monitor.settings or {},
            monitor.interval_seconds,
            now,
        )
    # Two pings racing: the later one wins, whichever commits last.
    conditions = [
        MONITORS.c.id == monitor.id,
        or_(MONITORS.c.last_ping_at.is_(None), MONITORS.c.last_ping_at <= now),
    ]
    if quietly:
        conditions += [MONITORS.c.status == "up", MONITORS.c.consecutive_failures == 0]
    written = session.execute(update(MONITORS).where(*conditions).values(values)).rowcount
    return bool(written) if quietly else True


def _result(kind: str, exit_status: int | None, ping_id: int, duration_ms: int | None) -> CheckResult:
    details: dict[str, object] = {"pingId": ping_id}
    if duration_ms is not None:
        details["durationMs"] = duration_ms
    if kind == "success":
        return CheckResult(True, latency_ms=duration_ms, details=details)
    if exit_status is not None:
        details["exitStatus"] = exit_status
        return CheckResult(
            False, latency_ms=duration_ms, cause=f"Job exited with status {exit_status}", details=details
        )
    return CheckResult(False, latency_ms=duration_ms, cause=FAILURE_REPORTED, details=details)


def _duration_ms(session: Session, monitor: Row[Any], rid: str | None, now: datetime) -> int | None:
    """How long the run this ping ends took: from its start with the same ``rid``, or else from the
    start of the run under way; None when no start was pinged."""
    if rid is not None:
        started = session.scalar(
            select(PINGS.c.received_at)
            .where(PINGS.c.monitor_id == monitor.id, PINGS.c.rid == rid, PINGS.c.kind == "start")
            .order_by(PINGS.c.id.desc())
            .limit(1)
        )
    else:
        started = Runs(now, monitor.last_ping_at, monitor.last_started_at).open_since
    if started is None or started > now:
        return None
    return (now - started) // timedelta(milliseconds=1)


def prune_pings(session: Session, monitor_id: str, keep: int = PINGS_KEPT) -> int:
    """Delete all but the monitor's ``keep`` newest pings; returns how many went.

    The pruner keeps at least the ping rate limit's worth (:func:`pings_kept`): the newest pings
    are the token's rate-limit count, and a ping of its window must not be deleted.
    """
    oldest_kept = session.scalar(
        select(Ping.id).where(Ping.monitor_id == monitor_id).order_by(Ping.id.desc()).offset(keep - 1).limit(1)
    )
    if oldest_kept is None:
        return 0
    with one_writer(session):
        deleted = session.execute(delete(Ping).where(Ping.monitor_id == monitor_id, Ping.id < oldest_kept)).rowcount
        session.commit()
    return deleted


def pings_kept(ping_rate_limit: int) -> int:
    """Pings the pruner keeps per monitor: :data:`PINGS_KEPT`, or the rate limit when it is larger (no more
    than that many can have arrived in the last :data:`PING_WINDOW`, so the count never loses one)."""
    return max(PINGS_KEPT, ping_rate_limit)


def _clean(text: str) -> str:
    # What a job sends is kept as text, and no database column keeps NUL: it becomes U+FFFD,
    # as bytes that are not UTF-8 do.
    return text.replace("\x00", "\ufffd")


def _excerpt(text: str | None, length: int) -> str | None:
    return _clean(text[:length]) if text else None
