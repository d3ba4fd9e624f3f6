"""Rollups: written with the results, added up in SQL across batches, never counting a replay twice."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from aloft.checks import CheckResult
from aloft.engine import state
from aloft.engine.state import record_many
from aloft.extensions import db
from aloft.models import Monitor, Rollup
from aloft.stats import buckets

#: 2027-01-15 08:00:00 UTC
SLOT = 1_800_000_000_000
MINUTE = 60_000


@pytest.fixture
def monitor(app, org):
    monitor = Monitor(org_id=org.id, name="site", type="http", url="http://x", interval_seconds=60)
    db.session.add(monitor)
    db.session.commit()
    return monitor


def feed(monitor, *slots_and_results):
    outcomes = record_many(db.session, [(monitor.id, slot, result) for slot, result in slots_and_results])
    db.session.commit()
    return outcomes


def rollup(monitor, period, start):
    db.session.expire_all()
    return db.session.get(Rollup, (monitor.id, period, start))


def test_a_batch_adds_its_results_to_the_minute_hour_and_day_they_fall_in(monitor):
    feed(
        monitor,
        (SLOT, CheckResult(True, 12.0)),
        (SLOT + 20_000, CheckResult(True, 30.0)),
        (SLOT + MINUTE, CheckResult(False, None, "Connection refused")),
    )
    start = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    first_minute = rollup(monitor, "minute", start)
    assert (first_minute.checks, first_minute.up, first_minute.downtime_seconds) == (2, 2, 0)
    assert (first_minute.latency_count, first_minute.latency_sum) == (2, 42.0)
    assert (first_minute.latency_min, first_minute.latency_max) == (12.0, 30.0)
    assert first_minute.latency_buckets == buckets.histogram([12.0, 30.0])
    second_minute = rollup(monitor, "minute", start + timedelta(minutes=1))
    assert (second_minute.checks, second_minute.up, second_minute.downtime_seconds) == (1, 0, 60)
    assert (second_minute.latency_count, second_minute.latency_min) == (0, None)
    for period, begins in (("hour", start), ("day", datetime(2027, 1, 15, tzinfo=UTC))):
        row = rollup(monitor, period, begins)
        assert (row.checks, row.up, row.downtime_seconds, row.latency_count) == (3, 2, 60, 2)


def test_later_batches_add_to_the_same_rows_histograms_included(monitor):
    latencies = [5.0, 7.5, 250.0, 0.3, 4000.0, 7.5]
    for index, latency in enumerate(latencies):
        feed(monitor, (SLOT + index * MINUTE, CheckResult(index % 3 != 0, latency)))
    hour = rollup(monitor, "hour", datetime(2027, 1, 15, 8, tzinfo=UTC))
    assert (hour.checks, hour.up, hour.downtime_seconds) == (6, 4, 120)
    assert (hour.latency_count, hour.latency_sum, hour.latency_min, hour.latency_max) == (
        6,
        sum(latencies),
        0.3,
        4000.0,
    )
    assert hour.latency_buckets == buckets.histogram(latencies)


def test_a_replayed_slot_is_counted_once(monitor):
    feed(monitor, (SLOT, CheckResult(True, 10.0)), (SLOT, CheckResult(True, 10.0)))
    feed(monitor, (SLOT, CheckResult(False, None, "late replay")))
    day = rollup(monitor, "day", datetime(2027, 1, 15, tzinfo=UTC))
    assert (day.checks, day.up, day.latency_count) == (1, 1, 1)


def test_rollups_are_written_in_the_results_transaction_or_not_at_all(monitor, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(state, "add_to_rollups", fail)
    with pytest.raises(RuntimeError):
        feed(monitor, (SLOT, CheckResult(True, 10.0)))
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Rollup)) == 0
    from aloft.models import CheckResult as Row

    assert db.session.scalar(select(func.count()).select_from(Row)) == 0
