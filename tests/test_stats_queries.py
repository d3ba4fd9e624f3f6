"""Stats from rollups: uptime over 24 h, 7 and 30 days, latency percentiles, the daily series, in bounded reads."""

import math
from datetime import UTC, datetime, timedelta

import pytest
from api_support import create_monitor
from sqlalchemy import event, text

from aloft.extensions import db
from aloft.models import Monitor, utcnow
from aloft.stats.queries import Retention, daily, pieces, totals
from aloft.stats.rollups import Counted, add_to_rollups

NOW = datetime(2027, 1, 20, 12, 34, 56, tzinfo=UTC)
EVERY = timedelta(minutes=5)
RETENTION = Retention(minute=timedelta(days=2), hour=timedelta(days=90))


def synthetic(monitor_id, now, days, failing=(), latency=lambda t: 20.0 + (t.minute % 17) * 3):
    """Checks every 5 minutes (at :30 s, never on an edge) over ``days`` up to ``now``, written to the rollups."""
    first = (now - timedelta(days=days)).replace(second=30, microsecond=0)
    checks = []
    moment = first
    while moment <= now:
        down = any(start <= moment < end for start, end in failing)
        checks.append(Counted(monitor_id, moment, not down, None if down else latency(moment), 300))
        moment += EVERY
    for start in range(0, len(checks), 2000):
        add_to_rollups(db.session, checks[start : start + 2000])
    db.session.commit()
    return checks


def whole(moment, unit):
    """``moment`` rounded up to a whole minute or hour."""
    floor = (
        moment.replace(second=0, microsecond=0)
        if unit == "minute"
        else moment.replace(minute=0, second=0, microsecond=0)
    )
    step = timedelta(minutes=1) if unit == "minute" else timedelta(hours=1)
    return floor if floor == moment else floor + step


def expected(checks, start):
    kept = [check for check in checks if start <= check.checked_at]
    up = sum(check.ok for check in kept)
    return round(100.0 * up / len(kept), 3), kept


@pytest.fixture
def monitor(app, org):
    monitor = Monitor(org_id=org.id, name="site", type="http", url="http://x", interval_seconds=300)
    db.session.add(monitor)
    db.session.commit()
    return monitor


def test_uptime_counts_the_checks_of_each_window(monitor):
    outages = [
        (NOW - timedelta(hours=2), NOW - timedelta(hours=1)),
        (NOW - timedelta(days=3), NOW - timedelta(days=3) + timedelta(hours=1)),
        (NOW - timedelta(days=20), NOW - timedelta(days=20) + timedelta(hours=6)),
        (NOW - timedelta(days=40), NOW - timedelta(days=39)),
    ]
    checks = synthetic(monitor.id, NOW, 45, outages)
    for window, unit in ((timedelta(hours=24), "minute"), (timedelta(days=7), "hour"), (timedelta(days=30), "hour")):
        uptime, kept = expected(checks, whole(NOW - window, unit))
        found = totals(db.session, monitor.id, NOW - window, NOW, RETENTION)
        assert (found.uptime, found.checks) == (uptime, len(kept)), window
        assert found.downtime_seconds == 300 * sum(not check.ok for check in kept)
    assert totals(db.session, monitor.id, NOW - timedelta(hours=24), NOW, RETENTION).uptime == pytest.approx(
        100 * (1 - 12 / 288), abs=0.5
    )


def test_latency_average_is_exact_and_percentiles_close(monitor):
    checks = synthetic(monitor.id, NOW, 2, latency=lambda t: 5.0 + ((t.minute * 7 + t.hour * 13) % 97) ** 1.7)
    found = totals(db.session, monitor.id, NOW - timedelta(hours=24), NOW, RETENTION)
    _, kept = expected(checks, whole(NOW - timedelta(hours=24), "minute"))
    latencies = sorted(check.latency_ms for check in kept)
    assert found.latency_average == round(sum(latencies) / len(latencies), 1)
    for fraction in (0.5, 0.95, 0.99):
        exact = latencies[round(fraction * (len(latencies) - 1))]
        assert abs(found.latency_percentile(fraction) - exact) / exact < 0.10


def test_a_monitor_without_checks_has_no_uptime_and_no_latency(monitor):
    found = totals(db.session, monitor.id, NOW - timedelta(days=30), NOW, RETENTION)
    assert (found.uptime, found.checks, found.latency_average, found.latency_percentile(0.5)) == (None, 0, None, None)


def test_the_daily_series_has_one_row_per_utc_day_oldest_first(monitor):
    outage = (datetime(2027, 1, 18, 6, tzinfo=UTC), datetime(2027, 1, 18, 9, tzinfo=UTC))
    checks = synthetic(monitor.id, NOW, 10, [outage])
    series = daily(db.session, monitor.id, 14, NOW)
    assert [day.date().isoformat() for day, _ in series][-3:] == ["2027-01-18", "2027-01-19", "2027-01-20"]
    assert len(series) == 14 and series[0][0] == datetime(2027, 1, 7, tzinfo=UTC)
    assert series[0][1].uptime is None and series[0][1].checks == 0, "no checks that day"
    by_day = {day.date(): day_totals for day, day_totals in series}
    outage_day = by_day[datetime(2027, 1, 18).date()]
    assert (outage_day.checks, outage_day.downtime_seconds) == (288, 36 * 300)
    assert outage_day.uptime == round(100 * (288 - 36) / 288, 3)
    today = [check for check in checks if check.checked_at.date() == NOW.date()]
    assert by_day[NOW.date()].checks == len(today), "today so far"
    p95 = by_day[datetime(2027, 1, 19).date()].latency_percentile(0.95)
    latencies = sorted(c.latency_ms for c in checks if c.checked_at.date() == datetime(2027, 1, 19).date())
    assert abs(p95 - latencies[round(0.95 * (len(latencies) - 1))]) / p95 < 0.10


def test_every_window_reads_a_bounded_number_of_rollup_rows():
    def rows(covered):
        lengths = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
        return sum(math.ceil((until - since) / lengths[period]) + (period == "day") for period, since, until in covered)

    for window, limit in (
        (timedelta(hours=24), 59 + 23 + 2),
        (timedelta(days=7), 23 + 8),
        (timedelta(days=30), 23 + 31),
    ):
        for minute in range(0, 60, 7):
            now = NOW.replace(minute=minute)
            covered = pieces(now - window, now, RETENTION)
            assert rows(covered) <= limit, (window, covered)
    longest = pieces(NOW - timedelta(days=365), NOW, RETENTION)
    assert [period for period, _, _ in longest] == ["day"], "past the hourly rollups, whole days"


def test_stats_queries_go_through_the_rollups_primary_key(app, monitor):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    plan = db.session.execute(
        text(
            "EXPLAIN QUERY PLAN SELECT * FROM rollups WHERE monitor_id = :m AND "
            "((period = 'minute' AND bucket_start >= :a AND bucket_start < :b) OR "
            "(period = 'day' AND bucket_start >= :a AND bucket_start <= :b))"
        ),
        {"m": monitor.id, "a": "2027-01-01", "b": "2027-01-02"},
    ).all()
    assert all("USING INDEX" in row[-1] or "PRIMARY KEY" in row[-1] for row in plan if "rollups" in row[-1]), plan


def test_the_monitor_detail_shows_every_stat(client, auth_headers):
    monitor = create_monitor(client, auth_headers, intervalSeconds=300)
    empty = client.get(f"/api/v1/monitors/{monitor['id']}", headers=auth_headers).json["stats"]
    assert empty == {
        "uptime24h": None,
        "uptime7d": None,
        "uptime30d": None,
        "responseTimeAvgMs": None,
        "responseTimeP50Ms": None,
        "responseTimeP95Ms": None,
        "responseTimeP99Ms": None,
        "checks24h": 0,
        "lastCheckedAt": None,
        "lastCause": None,
    }
    now = utcnow()
    checks = synthetic(
        monitor["id"], now - timedelta(minutes=1), 3, [(now - timedelta(hours=5), now - timedelta(hours=4))]
    )
    stats = client.get(f"/api/v1/monitors/{monitor['id']}", headers=auth_headers).json["stats"]
    last_day = [c for c in checks if c.checked_at >= now - timedelta(hours=24)]
    assert abs(stats["checks24h"] - len(last_day)) <= 1
    assert stats["uptime24h"] == pytest.approx(100 * sum(c.ok for c in last_day) / len(last_day), abs=0.5)
    assert stats["uptime7d"] == pytest.approx(100 * sum(c.ok for c in checks) / len(checks), abs=0.5)
    assert stats["uptime7d"] == stats["uptime30d"], "no older history"
    assert stats["responseTimeP50Ms"] <= stats["responseTimeP95Ms"] <= stats["responseTimeP99Ms"]


def test_sealing_finds_its_days_through_the_partial_index(app):
    from aloft.stats.pruning import unsealed_days

    if db.engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    sent = []
    listener = lambda _c, _cursor, statement, parameters, *_: sent.append((statement, parameters))  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        db.session.execute(unsealed_days(NOW, NOW - timedelta(days=3), "")).all()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    ((statement, parameters),) = sent
    plan = db.session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    assert any("ix_rollups_days_to_seal" in row[-1] for row in plan), plan
