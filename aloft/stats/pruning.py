"""Pruning history past its retention, in small transactions that never hold the checks up.

Raw results are kept ``ALOFT_KEEP_RESULTS_DAYS``, minute, hour and day rollups their own
``ALOFT_KEEP_*_DAYS``, the newest :data:`~aloft.pings.PINGS_KEPT` pings of each passive
monitor (the ping path itself never counts or prunes), and audit-log events
``ALOFT_KEEP_AUDIT_DAYS``. Rows go monitor by monitor, at most :data:`CHUNK` per transaction,
each found through its table's own primary-key or (monitor, time) index, so a prune is many
short writes the recorder interleaves with (on SQLite it waits its turn on the same lock).
A prune also seals the days that have ended (:func:`seal_days`).
The scheduler runs it hourly on a thread of its own; ``aloft prune`` runs it at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, bindparam, delete, exists, select, text, update
from sqlalchemy.orm import Session

from aloft.config import Settings
from aloft.engine.statements import one_writer
from aloft.models import CheckResult, Monitor, Rollup, utcnow
from aloft.people.audit import prune_events
from aloft.people.expiry import delete_expired
from aloft.pings import pings_kept, prune_pings
from aloft.stats import buckets
from aloft.stats.rollups import period_start

log = logging.getLogger(__name__)

#: Most rows one transaction deletes.
CHUNK = 1000
#: Monitors read per page.
MONITOR_PAGE = 500
#: How often the scheduler prunes, and how long after it starts it first does.
PRUNE_EVERY = timedelta(hours=1)
FIRST_PRUNE_AFTER = timedelta(minutes=1)


@dataclass
class Pruned:
    """Rows deleted, by kind."""

    counts: dict[str, int] = field(default_factory=lambda: {"results": 0, "minute": 0, "hour": 0, "day": 0})
    monitors: int = 0
    #: Pings deleted beyond each passive monitor's newest PINGS_KEPT.
    pings: int = 0
    #: Finished days whose p95 latency was stored.
    sealed: int = 0
    #: Audit-log events past ``ALOFT_KEEP_AUDIT_DAYS``.
    audit_events: int = 0
    #: Ended browser sessions and old one-time links.
    expired_access: int = 0

    def __str__(self) -> str:
        counts = self.counts
        return (
            f"{counts['results']} results and {counts['minute'] + counts['hour'] + counts['day']} rollups "
            f"({counts['minute']} minute, {counts['hour']} hour, {counts['day']} day) of {self.monitors} monitors"
        )


def cutoffs(settings: Settings, now: datetime) -> dict[str, datetime]:
    """What is older than these goes, by kind."""
    return {
        "results": now - timedelta(days=settings.keep_results_days),
        "minute": now - timedelta(days=settings.keep_minute_rollups_days),
        "hour": now - timedelta(days=settings.keep_hourly_rollups_days),
        "day": now - timedelta(days=settings.keep_daily_rollups_days),
    }


def prune(
    session: Session,
    settings: Settings,
    now: datetime | None = None,
    *,
    progress: Callable[[Pruned], None] | None = None,
    stop: threading.Event | None = None,
) -> Pruned:
    """Delete every result and rollup past its retention; ``progress`` hears after each page of monitors."""
    limits = cutoffs(settings, now or utcnow())
    pruned = Pruned()
    last_id = ""
    while stop is None or not stop.is_set():
        monitor_ids = session.scalars(
            select(Monitor.id).where(Monitor.id > last_id).order_by(Monitor.id).limit(MONITOR_PAGE)
        ).all()
        session.commit()
        if not monitor_ids:
            break
        page = (Monitor.id > last_id, Monitor.id <= monitor_ids[-1])
        # One statement per kind finds the page's monitors that have anything to delete (an
        # index probe each, inside the database): most have nothing, most hours.
        for kind in ("results", "minute", "hour", "day"):
            stale = session.scalars(select(Monitor.id).where(*page, _has_old(kind, limits[kind])).order_by(Monitor.id))
            for monitor_id in stale.all():
                if kind == "results":
                    pruned.counts[kind] += _drain(session, _old_results(monitor_id, limits[kind]))
                else:
                    pruned.counts[kind] += _drain(session, _old_rollups(monitor_id, kind, limits[kind]))
            session.commit()
        # Pings are kept by count, not age: the newest PINGS_KEPT of each passive monitor (or the
        # ping rate limit's worth, when larger: they are its count).
        for monitor_id in session.scalars(select(Monitor.id).where(*page, Monitor.ping_token.is_not(None))).all():
            pruned.pings += prune_pings(session, monitor_id, pings_kept(settings.ping_rate_limit))
        session.commit()
        pruned.monitors += len(monitor_ids)
        last_id = monitor_ids[-1]
        if progress is not None:
            progress(pruned)
    if stop is None or not stop.is_set():
        pruned.sealed = seal_days(session, now or utcnow())
        pruned.audit_events = prune_events(session, settings.keep_audit_days, now or utcnow())
        pruned.expired_access = delete_expired(session, settings, now or utcnow())
    return pruned


def seal_days(session: Session, now: datetime) -> int:
    """Store the p95 latency of every day rollup whose UTC day has ended; returns how many.

    ``GET …/uptime`` then reads a number per day instead of a histogram. A late result for a
    sealed day sets the day's p95 back to NULL in the same upsert that adds it, and the
    guard on ``latency_count`` here keeps a seal computed before such a write from landing
    after it. Days whose checks measured no latency are left as they are (their p95 is none).
    """
    today = period_start(now, "day")
    sealed = 0
    after: tuple[datetime, str] = (datetime.min.replace(tzinfo=today.tzinfo), "")
    while True:
        rows = session.execute(unsealed_days(today, *after)).all()
        session.commit()
        if not rows:
            return sealed
        values = [
            {
                "m": row.monitor_id,
                "s": row.bucket_start,
                "n": row.latency_count,
                "p95": _rounded(buckets.percentile(row.latency_buckets, 0.95, row.latency_min, row.latency_max)),
            }
            for row in rows
        ]
        with one_writer(session):
            session.execute(_SEAL, values)
            session.commit()
        sealed += len(values)
        after = (rows[-1].bucket_start, rows[-1].monitor_id)


def unsealed_days(today: datetime, after_start: datetime, after_monitor: str) -> Select:
    """The next chunk of finished, unsealed days with latencies, after (``after_start``, ``after_monitor``)."""
    return (
        select(
            Rollup.monitor_id,
            Rollup.bucket_start,
            Rollup.latency_count,
            Rollup.latency_min,
            Rollup.latency_max,
            Rollup.latency_buckets,
        )
        .where(
            # Spelled as the partial index's predicate is, so that SQLite uses the index (a bound
            # parameter for 'day' would not match it).
            text("rollups.period = 'day'"),
            Rollup.latency_p95.is_(None),
            Rollup.bucket_start < today,
            Rollup.latency_count > 0,
            (Rollup.bucket_start > after_start)
            | ((Rollup.bucket_start == after_start) & (Rollup.monitor_id > after_monitor)),
        )
        .order_by(Rollup.bucket_start, Rollup.monitor_id)
        .limit(CHUNK)
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


_ROLLUPS = Rollup.__table__
#: A Core executemany (an ORM update would want whole primary keys and load nothing useful).
_SEAL = (
    update(_ROLLUPS)
    .where(
        _ROLLUPS.c.monitor_id == bindparam("m"),
        _ROLLUPS.c.period == "day",
        _ROLLUPS.c.bucket_start == bindparam("s"),
        _ROLLUPS.c.latency_count == bindparam("n"),
    )
    .values(latency_p95=bindparam("p95"))
)


def _has_old(kind: str, cutoff: datetime) -> ColumnElement[bool]:
    """Whether the monitor of the enclosing query has results (or ``kind`` rollups) older than ``cutoff``."""
    if kind == "results":
        return exists().where(CheckResult.monitor_id == Monitor.id, CheckResult.checked_at < cutoff)
    return exists().where(Rollup.monitor_id == Monitor.id, Rollup.period == kind, Rollup.bucket_start < cutoff)


def _old_results(monitor_id: str, cutoff: datetime) -> object:
    chunk = (
        select(CheckResult.id)
        .where(CheckResult.monitor_id == monitor_id, CheckResult.checked_at < cutoff)
        .order_by(CheckResult.checked_at)
        .limit(CHUNK)
    )
    return delete(CheckResult).where(CheckResult.id.in_(chunk.scalar_subquery()))


def _old_rollups(monitor_id: str, period: str, cutoff: datetime) -> object:
    chunk = (
        select(Rollup.bucket_start)
        .where(Rollup.monitor_id == monitor_id, Rollup.period == period, Rollup.bucket_start < cutoff)
        .order_by(Rollup.bucket_start)
        .limit(CHUNK)
    )
    return delete(Rollup).where(
        Rollup.monitor_id == monitor_id, Rollup.period == period, Rollup.bucket_start.in_(chunk.scalar_subquery())
    )


def _drain(session: Session, statement: object) -> int:
    """Run a chunked delete until it deletes less than a chunk; each chunk commits on its own."""
    deleted = 0
    while True:
        with one_writer(session):
            count = session.execute(statement.execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
            session.commit()
        deleted += count
        if count < CHUNK:
            return deleted


class Pruner:
    """Prunes every :data:`PRUNE_EVERY` on a thread of its own (the scheduler starts one)."""

    def __init__(self, session_factory: Callable[[], Session], settings: Settings) -> None:
        self.session_factory = session_factory
        self.settings = settings

    def run(self, stop: threading.Event) -> None:
        if stop.wait(FIRST_PRUNE_AFTER.total_seconds()):
            return
        while True:
            try:
                pruned = prune(self.session_factory(), self.settings, stop=stop)
                log.info("pruned %s", pruned)
            except Exception:
                log.exception("pruning failed; trying again in %s", PRUNE_EVERY)
            if stop.wait(PRUNE_EVERY.total_seconds()):
                return
