"""The state machine: confirmed failures open one incident, the first success resolves it."""

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.dialects import sqlite

from aloft.checks import CheckResult
from aloft.engine.state import record, record_many, slot_time
from aloft.engine.statements import sqlite_time
from aloft.extensions import db
from aloft.models import CheckResult as CheckResultRow
from aloft.models import Incident, Monitor

SLOT = 1_800_000_000_000
DOWN = CheckResult(ok=False, latency_ms=3.0, cause="Connection refused")
UP = CheckResult(ok=True, latency_ms=12.5)


def monitor_in(org, **fields):
    monitor = Monitor(org_id=org.id, name="site", type="http", url="http://x", confirmation_count=2, **fields)
    db.session.add(monitor)
    db.session.commit()
    return monitor


def feed(monitor, *results, start=SLOT):
    """Record each result in a transaction of its own, one slot after the other."""
    outcomes = []
    for index, result in enumerate(results):
        outcomes.append(record(db.session, monitor.id, start + index * 60_000, result))
        db.session.commit()
    db.session.refresh(monitor)
    return outcomes


def feed_batch(monitor, *slots_and_results):
    """Record several results in one batch (one transaction)."""
    outcomes = record_many(db.session, [(monitor.id, slot, result) for slot, result in slots_and_results])
    db.session.commit()
    db.session.refresh(monitor)
    return outcomes


def incidents():
    return db.session.scalars(select(Incident).order_by(Incident.started_at)).all()


def test_one_failure_below_the_confirmation_count_opens_nothing(app, org):
    monitor = monitor_in(org)
    feed(monitor, UP, DOWN)
    assert monitor.status == "up" and monitor.consecutive_failures == 1
    assert incidents() == []


def test_confirmed_failures_open_one_incident_with_the_cause(app, org):
    monitor = monitor_in(org)
    outcomes = feed(monitor, UP, DOWN, DOWN, DOWN, DOWN)
    assert [o.transition.kind if o.transition else None for o in outcomes] == [None, None, "opened", None, None]
    assert monitor.status == "down"
    (incident,) = incidents()
    assert incident.status == "open" and incident.cause == "Connection refused"
    assert incident.opened_by_result_id is not None


def test_the_first_success_resolves_the_incident(app, org):
    monitor = monitor_in(org)
    outcomes = feed(monitor, DOWN, DOWN, UP, DOWN, DOWN)
    assert [o.transition.kind if o.transition else None for o in outcomes] == [
        None,
        "opened",
        "resolved",
        None,
        "opened",
    ]
    first, second = incidents()
    assert first.status == "resolved" and first.resolved_at > first.started_at
    assert second.status == "open"
    assert monitor.status == "down"


def test_a_replayed_slot_writes_nothing_twice(app, org):
    monitor = monitor_in(org)
    feed(monitor, DOWN, DOWN)
    replay = feed(monitor, DOWN, DOWN)
    assert [outcome.stored for outcome in replay] == [False, False]
    assert db.session.scalar(select(func.count()).select_from(CheckResultRow)) == 2
    assert len(incidents()) == 1 and monitor.consecutive_failures == 2


def test_an_older_slot_finishing_late_is_kept_but_changes_no_state(app, org):
    monitor = monitor_in(org)
    feed(monitor, UP, start=SLOT + 60_000)
    (late,) = feed(monitor, DOWN, start=SLOT)
    assert late.stored and late.transition is None
    assert monitor.status == "up" and monitor.consecutive_failures == 0


def test_a_confirmation_count_of_one_opens_on_the_first_failure(app, org):
    monitor = monitor_in(org)
    monitor.confirmation_count = 1
    db.session.commit()
    (outcome,) = feed(monitor, DOWN)
    assert outcome.transition.kind == "opened"


def test_the_same_slot_twice_in_one_batch_is_stored_and_applied_once(app, org):
    monitor = monitor_in(org)
    outcomes = feed_batch(monitor, (SLOT, DOWN), (SLOT, DOWN))
    assert [outcome.stored for outcome in outcomes] == [True, False]
    assert monitor.consecutive_failures == 1
    assert db.session.scalar(select(func.count()).select_from(CheckResultRow)) == 1


def test_a_batch_applies_its_results_oldest_slot_first(app, org):
    monitor = monitor_in(org)
    outcomes = feed_batch(monitor, (SLOT + 120_000, UP), (SLOT, DOWN), (SLOT + 60_000, DOWN))
    assert [o.transition.kind if o.transition else None for o in outcomes] == ["resolved", None, "opened"]
    (incident,) = incidents()
    assert incident.status == "resolved" and monitor.status == "up"


def test_slots_become_times_exact_to_the_millisecond():
    assert slot_time(1_800_000_000_123).isoformat() == "2027-01-15T08:00:00.123000+00:00"


def test_sqlite_times_are_written_as_sqlalchemy_writes_them():
    from_sqlalchemy = sqlite.DATETIME().bind_processor(sqlite.dialect())
    for moment in (
        slot_time(1_800_000_000_123),
        datetime(2026, 11, 23, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2026, 11, 24, 1, 0, tzinfo=timezone(timedelta(hours=2))),  # 23:00 the day before, UTC
    ):
        naive_utc = moment.astimezone(UTC).replace(tzinfo=None)
        assert sqlite_time(moment) == from_sqlalchemy(naive_utc)


def test_a_check_that_changes_only_the_time_keeps_status_and_failures(app, org):
    monitor = monitor_in(org)
    feed(monitor, DOWN)
    assert (monitor.status, monitor.consecutive_failures) == ("pending", 1)
    feed(monitor, UP, UP, start=SLOT + 60_000)
    assert (monitor.status, monitor.consecutive_failures) == ("up", 0)
    feed(monitor, UP, start=SLOT + 180_000)
    assert (monitor.status, monitor.consecutive_failures) == ("up", 0)
    assert monitor.last_checked_at == slot_time(SLOT + 180_000)
    # A batch that goes down and comes back ends where it began: only the time is written.
    feed_batch(monitor, (SLOT + 240_000, DOWN), (SLOT + 300_000, UP))
    assert (monitor.status, monitor.consecutive_failures) == ("up", 0)
    assert monitor.last_checked_at == slot_time(SLOT + 300_000)
