"""Pruning: results and rollups past their retention go, in chunks; everything younger stays."""

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from aloft.checks import CheckResult
from aloft.engine.state import record_many
from aloft.extensions import db
from aloft.models import CheckResult as ResultRow
from aloft.models import Incident, Monitor, Rollup, utcnow
from aloft.stats import pruning
from aloft.stats.pruning import prune

NOW = utcnow().replace(microsecond=0)


def ago(**delta):
    return int((NOW - timedelta(**delta)).timestamp() * 1000)


@pytest.fixture
def history(app, org):
    """A monitor checked now and then over 800 days (an incident 10 days ago), and one checked only today."""
    old = Monitor(org_id=org.id, name="old", type="http", url="http://x", interval_seconds=60, confirmation_count=1)
    young = Monitor(org_id=org.id, name="young", type="http", url="http://y", interval_seconds=60)
    db.session.add_all([old, young])
    db.session.commit()
    moments = [{"minutes": 5}, {"hours": 30}, {"days": 3}, {"days": 10}, {"days": 100}, {"days": 800}]
    record_many(
        db.session, [(old.id, ago(**m), CheckResult(not ("days" in m and m["days"] == 10), 5.0, "x")) for m in moments]
    )
    db.session.commit()
    record_many(db.session, [(young.id, ago(minutes=1), CheckResult(True, 5.0))])
    db.session.commit()
    return old, young


def count(model, **where):
    return db.session.scalar(select(func.count()).select_from(model).filter_by(**where))


def test_pruning_keeps_each_kind_for_its_retention(app, history):
    old, young = history
    settings = app.extensions["aloft.settings"]
    pruned = prune(db.session, settings, NOW)
    results = db.session.scalars(select(ResultRow.checked_at).where(ResultRow.monitor_id == old.id)).all()
    assert sorted(NOW - moment for moment in results) == [timedelta(minutes=5), timedelta(hours=30), timedelta(days=3)]
    assert count(Rollup, monitor_id=old.id, period="minute") == 2, "2 days of minutes"
    assert count(Rollup, monitor_id=old.id, period="hour") == 4, "90 days of hours"
    assert count(Rollup, monitor_id=old.id, period="day") == 5, "730 days of days"
    assert count(ResultRow, monitor_id=young.id) == 1
    assert pruned.counts == {"results": 3, "minute": 4, "hour": 2, "day": 1} and pruned.monitors == 2


def test_pruning_goes_in_chunks_and_is_idempotent(app, history, monkeypatch):
    monkeypatch.setattr(pruning, "CHUNK", 1)
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        first = prune(db.session, app.extensions["aloft.settings"], NOW)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert first.counts["results"] == 3
    assert sum(statement.startswith("DELETE FROM check_results") for statement in statements) >= 4, "one row each"
    statements.clear()
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        again = prune(db.session, app.extensions["aloft.settings"], NOW)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert again.counts == dict.fromkeys(first.counts, 0)
    assert not [statement for statement in statements if statement.startswith("DELETE")], "nothing old: no deletes"


def test_an_incident_outlives_the_check_that_opened_it(app, history):
    old, _ = history
    (incident,) = db.session.scalars(select(Incident).where(Incident.monitor_id == old.id)).all()
    assert incident.opened_by_result_id is not None
    prune(db.session, app.extensions["aloft.settings"], NOW)
    db.session.expire_all()
    kept = db.session.get(Incident, incident.id)
    assert kept is not None and kept.opened_by_result_id is None


def test_aloft_prune_says_what_it_deleted(app, history):
    from aloft.cli import cli

    result = app.test_cli_runner().invoke(cli, ["prune"])
    assert result.exit_code == 0, result.output
    assert "results: older than" in result.output
    assert "Pruned 3 results and 7 rollups (4 minute, 2 hour, 1 day) of 2 monitors." in result.output


def test_a_finished_day_is_sealed_with_its_p95_and_a_late_result_unseals_it(app, client, auth_headers, org):
    monitor = Monitor(org_id=org.id, name="sealed", type="http", url="http://x", interval_seconds=60)
    db.session.add(monitor)
    db.session.commit()
    now = utcnow().replace(microsecond=0)  # not the module's NOW: /uptime counts days from the clock
    today = now.replace(hour=0, minute=0, second=0)
    days_ago = [today - timedelta(days=2), today - timedelta(days=1)]
    # 100 checks on each of two finished days (10-109 ms, then 10-208 ms), one today.
    checks = [
        (day + timedelta(minutes=minute), 10.0 + minute * (1 + number))
        for number, day in enumerate(days_ago)
        for minute in range(100)
    ]
    checks.append((min(today + timedelta(minutes=1), now), 7.0))
    record_many(
        db.session,
        [(monitor.id, int(slot.timestamp() * 1000), CheckResult(True, latency)) for slot, latency in checks],
    )
    db.session.commit()
    url = f"/api/v1/monitors/{monitor.id}/uptime?days=3"
    computed = client.get(url, headers=auth_headers).json

    def stored_p95() -> dict:
        db.session.expire_all()
        rows = db.session.scalars(select(Rollup).where(Rollup.monitor_id == monitor.id, Rollup.period == "day"))
        return {row.bucket_start.date().isoformat(): row.latency_p95 for row in rows}

    assert pruning.seal_days(db.session, now) == 2
    assert pruning.seal_days(db.session, now) == 0, "sealed once"
    sealed = stored_p95()
    assert sealed[today.date().isoformat()] is None, "today can still change"
    assert [sealed[day.date().isoformat()] for day in days_ago] == [
        row["responseTimeP95Ms"] for row in computed["days"][:2]
    ]
    assert client.get(url, headers=auth_headers).json == computed, "a sealed day answers as it did"

    late = days_ago[1] + timedelta(hours=5)  # a result for yesterday that arrives only now, and is slow
    record_many(
        db.session,
        [(monitor.id, int(late.timestamp() * 1000) + m * 60_000, CheckResult(True, 900.0)) for m in range(20)],
    )
    db.session.commit()
    assert stored_p95()[days_ago[1].date().isoformat()] is None, "the late results unsealed the day"
    changed = client.get(url, headers=auth_headers).json["days"][1]
    assert changed["checks"] == 120 and changed["responseTimeP95Ms"] > computed["days"][1]["responseTimeP95Ms"]
    assert pruning.seal_days(db.session, now) == 1
    assert client.get(url, headers=auth_headers).json["days"][1] == changed
