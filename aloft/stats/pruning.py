"""Pruning history past its retention, in small transactions that never hold the checks up.

Raw results are kept ``ALOFT_KEEP_RESULTS_DAYS``, minute, hour and day rollups their own
``ALOFT_KEEP_*_DAYS``. Rows go monitor by monitor, at most :data:`CHUNK` per transaction,
each found through its table's own primary-key or (monitor, time) index, so a prune is many
short writes the recorder interleaves with (on SQLite it waits its turn on the same lock).
The scheduler runs it hourly on a thread of its own; ``aloft prune`` runs it at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from aloft.config import Settings
from aloft.engine.statements import one_writer
from aloft.models import CheckResult, Monitor, Rollup, utcnow

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
        for monitor_id in monitor_ids:
            pruned.counts["results"] += _drain(session, _old_results(monitor_id, limits["results"]))
            for period in ("minute", "hour", "day"):
                pruned.counts[period] += _drain(session, _old_rollups(monitor_id, period, limits[period]))
        pruned.monitors += len(monitor_ids)
        last_id = monitor_ids[-1]
        if progress is not None:
            progress(pruned)
    return pruned


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
