"""Every monitor of an organization at a glance: what the dashboard shows, in four queries whatever the count.

Per monitor: uptime over the last 24 hours and 30 days, and the average response time of
each two hours of the last 24 (a sparkline). Read from hour and day rollups only, grouped in
SQL, so 1,000 monitors cost a few thousand summed rows, not 1,000 round trips. The 24-hour
window is the current hour and the 23 before it (whole hours: the dashboard need not read
minute rollups); 30 days are today and the 29 days before it. The monitor page
(:func:`aloft.stats.queries.totals`) gives the exact window.

A passive monitor's uptime is weighed by time instead, from its incidents, over exactly the
last 24 hours and 30 days: one grouped query for all of them, the one the API's stats read
(:func:`aloft.stats.outages.uptimes`), so the dashboard and the API agree.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from aloft.models import Monitor, Rollup
from aloft.stats.outages import uptimes
from aloft.stats.rollups import period_start

HOURS = 24
#: The sparkline's points: one per two hours.
SPARK_POINTS = 12
DAYS = 30
#: A passive monitor's windows, exact: the last 24 hours and 30 days.
PASSIVE_WINDOWS = (timedelta(hours=HOURS), timedelta(days=DAYS))


@dataclass
class Glance:
    """One monitor's recent history: uptime percents (None: no checks) and its response times of late."""

    uptime24h: float | None = None
    uptime30d: float | None = None
    #: The average latency of each two hours of the last 24, oldest first; None where none was measured.
    latency: list[float | None] = field(default_factory=lambda: [None] * SPARK_POINTS)


def percent(up: int, checks: int) -> float | None:
    return round(100.0 * up / checks, 3) if checks else None


def glances(session: Session, org_id: str, now: datetime) -> dict[str, Glance]:
    """Each monitor of ``org_id`` that has rollups in the last 30 days, and each passive one, by id.

    The hour rows are summed into the sparkline's points by the database (a CASE on the
    bucket's start), so a thousand monitors return 12,000 small rows, not 24,000 timestamps.
    """
    first_hour = period_start(now, "hour") - timedelta(hours=HOURS - 1)
    first_day = period_start(now, "day") - timedelta(days=DAYS - 1)
    org_monitors = select(Monitor.id).where(Monitor.org_id == org_id).scalar_subquery()
    hours_per_point = HOURS // SPARK_POINTS
    point = case(
        *(
            (Rollup.bucket_start < first_hour + timedelta(hours=hours_per_point * (index + 1)), index)
            for index in range(SPARK_POINTS - 1)
        ),
        else_=SPARK_POINTS - 1,
    ).label("point")
    found: dict[str, Glance] = defaultdict(Glance)
    day_checks: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for monitor_id, index, checks, up, latency_sum, latency_count in session.execute(
        select(
            Rollup.monitor_id,
            point,
            func.sum(Rollup.checks),
            func.sum(Rollup.up),
            func.sum(Rollup.latency_sum),
            func.sum(Rollup.latency_count),
        )
        .where(Rollup.monitor_id.in_(org_monitors), Rollup.period == "hour", Rollup.bucket_start >= first_hour)
        .group_by(Rollup.monitor_id, point)
    ):
        counts = day_checks[monitor_id]
        counts[0] += checks
        counts[1] += up
        if latency_count:
            found[monitor_id].latency[index] = latency_sum / latency_count
    for monitor_id, (checks, up) in day_checks.items():
        found[monitor_id].uptime24h = percent(up, checks)
    for monitor_id, checks, up in session.execute(
        select(Rollup.monitor_id, func.sum(Rollup.checks), func.sum(Rollup.up))
        .where(Rollup.monitor_id.in_(org_monitors), Rollup.period == "day", Rollup.bucket_start >= first_day)
        .group_by(Rollup.monitor_id)
    ):
        found[monitor_id].uptime30d = percent(int(up or 0), int(checks or 0))
    for monitor_id, (uptime24h, uptime30d) in uptimes(session, org_id, now, PASSIVE_WINDOWS).items():
        glance = found[monitor_id]
        glance.uptime24h, glance.uptime30d = uptime24h, uptime30d
    return dict(found)


def latency_series(
    session: Session, monitor_id: str, period: str, start: datetime, now: datetime
) -> list[tuple[datetime, float | None, float | None]]:
    """One ``(bucket start, average ms, slowest ms)`` per ``period`` from ``start`` to ``now``, oldest first.

    Buckets without measured latencies are there with None, so a chart shows the gap.
    """
    step = timedelta(hours=1) if period == "hour" else timedelta(days=1)
    first = period_start(start, period)
    rows = {
        row.bucket_start.replace(tzinfo=first.tzinfo): row
        for row in session.execute(
            select(Rollup.bucket_start, Rollup.latency_sum, Rollup.latency_count, Rollup.latency_max).where(
                Rollup.monitor_id == monitor_id, Rollup.period == period, Rollup.bucket_start >= first
            )
        )
    }
    series: list[tuple[datetime, float | None, float | None]] = []
    moment = first
    while moment <= now:
        row = rows.get(moment)
        if row is not None and row.latency_count:
            series.append((moment, row.latency_sum / row.latency_count, row.latency_max))
        else:
            series.append((moment, None, None))
        moment += step
    return series
