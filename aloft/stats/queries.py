"""The stats a monitor shows, read from rollups: a bounded number of rows whatever the history's length.

A window ``[start, now]`` is covered by the coarsest rollups that fit it: whole UTC days,
the whole hours before the first of them, and the minutes before the first whole hour.
Nothing after ``now`` exists yet, so today's day row (or this hour's) is used as it is. The
minutes at the start are used only while minute rollups are kept (``ALOFT_KEEP_MINUTE_ROLLUPS_DAYS``);
an older window starts at the whole hour (or day) instead, a difference of under an hour in
days. A 24-hour window reads at most 59 minute rows, 23 hour rows and 2 day rows; 30 days,
at most 23 hour rows and 31 day rows.

Uptime is counted in checks: the share of a window's checks that succeeded. Paused time
has no checks, so it does not count either way; Aloft has no maintenance windows yet. A
failed check counts its monitor's interval as downtime. A passive monitor's uptime is
counted in time instead, from its incidents (:mod:`aloft.stats.outages`). Latencies are those of checks that
measured one (a refused connection measures none), read from the rollups' histograms
(see :mod:`aloft.stats.buckets`): averages are exact, percentiles within 5 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, null, or_, select
from sqlalchemy.orm import Session

from aloft.models import Rollup
from aloft.stats import buckets
from aloft.stats.rollups import PERIOD_LENGTH, Sum, period_start


@dataclass
class Totals(Sum):
    """What the checks of a window add up to: the rollup rows' sums, added up."""

    #: A sealed day's stored p95 (see aloft.stats.pruning.seal_days), used instead of the histogram.
    sealed_p95: float | None = None
    #: A passive monitor's ``(counted, down)`` seconds: its uptime is weighed by time (see aloft.stats.outages).
    timed: tuple[float, float] | None = None

    def add(self, row: Any) -> None:
        self.checks += row.checks
        self.up += row.up
        self.downtime_seconds += row.downtime_seconds
        self.latency_count += row.latency_count
        self.latency_sum += row.latency_sum
        if row.latency_min is not None:
            self.latency_min = row.latency_min if self.latency_min is None else min(self.latency_min, row.latency_min)
        if row.latency_max is not None:
            self.latency_max = row.latency_max if self.latency_max is None else max(self.latency_max, row.latency_max)
        buckets.add_counts(self.latency_buckets, row.latency_buckets)

    @property
    def uptime(self) -> float | None:
        """Percent of checks that succeeded (of time not down, when timed), to 3 decimals; None without either."""
        if self.timed is not None:
            return percent_up(*self.timed)
        return round(100.0 * self.up / self.checks, 3) if self.checks else None

    @property
    def latency_average(self) -> float | None:
        return round(self.latency_sum / self.latency_count, 1) if self.latency_count else None

    def latency_percentile(self, fraction: float) -> float | None:
        if fraction == 0.95 and self.sealed_p95 is not None:
            return self.sealed_p95
        if self.latency_min is None or self.latency_max is None:
            return None
        value = buckets.percentile(self.latency_buckets, fraction, self.latency_min, self.latency_max)
        return None if value is None else round(value, 1)


def percent_up(counted_seconds: float, down_seconds: float) -> float | None:
    """Percent of the counted time that was not down, to 3 decimals; None when nothing was counted."""
    if counted_seconds <= 0:
        return None
    return round(100.0 * (counted_seconds - min(down_seconds, counted_seconds)) / counted_seconds, 3)


@dataclass(frozen=True)
class Retention:
    """How long each kind of rollup is kept (the finest one still there covers a window's start)."""

    minute: timedelta
    hour: timedelta

    @classmethod
    def of(cls, settings: Any) -> Retention:
        return cls(timedelta(days=settings.keep_minute_rollups_days), timedelta(days=settings.keep_hourly_rollups_days))


def pieces(start: datetime, now: datetime, retention: Retention) -> list[tuple[str, datetime, datetime]]:
    """The (period, from, until) ranges of rollup rows that cover ``[start, now]``."""
    if start >= now - retention.minute:
        finest = "minute"
    elif start >= now - retention.hour:
        finest = "hour"
    else:
        finest = "day"
    covered: list[tuple[str, datetime, datetime]] = []
    edge = period_start(start, finest)
    if edge < start:  # a partial first minute, hour or day: start at the next whole one
        edge += PERIOD_LENGTH[finest]
    for period, coarser in (("minute", "hour"), ("hour", "day")):
        if _finer_or_equal(finest, period):
            whole = period_start(edge, coarser)
            next_whole = whole if whole == edge else whole + PERIOD_LENGTH[coarser]
            until = min(next_whole, now)
            if edge < until:
                covered.append((period, edge, until))
            edge = max(edge, next_whole)
    if edge <= now:
        covered.append(("day", edge, now))
    return covered


def _finer_or_equal(finest: str, period: str) -> bool:
    order = ("minute", "hour", "day")
    return order.index(finest) <= order.index(period)


def totals(session: Session, monitor_id: str, start: datetime, now: datetime, retention: Retention) -> Totals:
    """What the monitor's checks in ``[start, now]`` add up to."""
    ranges = pieces(start, now, retention)
    result = Totals()
    if not ranges:
        return result
    rows = session.execute(
        select(Rollup).where(
            Rollup.monitor_id == monitor_id,
            or_(
                *(
                    and_(Rollup.period == period, Rollup.bucket_start >= since, Rollup.bucket_start <= until)
                    if period == "day"
                    else and_(Rollup.period == period, Rollup.bucket_start >= since, Rollup.bucket_start < until)
                    for period, since, until in ranges
                )
            ),
        )
    ).scalars()
    for row in rows:
        result.add(row)
    return result


def daily(session: Session, monitor_id: str, days: int, now: datetime) -> list[tuple[datetime, Totals]]:
    """One entry per UTC day, the oldest first, ending today: what each day's checks added up to.

    A sealed day comes with its stored p95 and without its histogram, so of its percentiles
    only ``latency_percentile(0.95)`` is known.
    """
    today = period_start(now, "day")
    first = today - timedelta(days=days - 1)
    # Plain rows, not ORM objects: a 730-day series reads up to 730 of them, each one day's totals as is.
    found = {
        row.bucket_start: Totals(
            row.checks,
            row.up,
            row.downtime_seconds,
            row.latency_count,
            row.latency_sum,
            row.latency_min,
            row.latency_max,
            row.latency_buckets or {},
            row.latency_p95,
        )
        for row in session.execute(
            select(*_TOTALS_COLUMNS).where(
                Rollup.monitor_id == monitor_id,
                Rollup.period == "day",
                Rollup.bucket_start >= first,
                Rollup.bucket_start <= today,
            )
        )
    }
    days_asked = (first + timedelta(days=offset) for offset in range(days))
    return [(day, found.get(day) or Totals()) for day in days_asked]


_TOTALS_COLUMNS = (
    Rollup.bucket_start,
    Rollup.checks,
    Rollup.up,
    Rollup.downtime_seconds,
    Rollup.latency_count,
    Rollup.latency_sum,
    Rollup.latency_min,
    Rollup.latency_max,
    # A sealed day's histogram is not needed: its p95 is stored.
    case((Rollup.latency_p95.is_(None), Rollup.latency_buckets), else_=null()).label("latency_buckets"),
    Rollup.latency_p95,
)
