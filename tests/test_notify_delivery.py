"""Deliveries: written with the incident (an outbox), claimed once, sent, retried with backoff, or failed."""

import threading
from datetime import timedelta

import pytest
from api_support import add_channel, create_monitor
from sqlalchemy import func, insert, select, update

from aloft.checks import CheckResult
from aloft.engine import jobs
from aloft.engine.executors import EmbeddedExecutor
from aloft.engine.jobs import load_targets, record_outcomes
from aloft.engine.scheduler import Scheduler
from aloft.extensions import db
from aloft.models import Channel, Delivery, Incident, monitor_channels, utcnow
from aloft.notify.sending import deliver, due_deliveries, retry_delay

SLOT = 1_800_000_000_000
DOWN = CheckResult(ok=False, latency_ms=2.0, cause="HTTP 503")
UP = CheckResult(ok=True, latency_ms=2.0)


@pytest.fixture
def channels(client, auth_headers, receiver):
    """Two Slack channels on the receiver, and a monitor that uses both (opens on the first failure)."""
    ids = [
        client.post(
            "/api/v1/channels",
            json={"name": name, "type": "slack", "config": {"webhookUrl": f"{receiver.url}/{name}"}},
            headers=auth_headers,
        ).json["channel"]["id"]
        for name in ("ops", "dev")
    ]
    monitor = create_monitor(client, auth_headers, name="Shop API", confirmationCount=1, channelIds=ids)
    return monitor, ids


def record(monitor_id, slot, result):
    (target,) = load_targets([monitor_id])
    db.session.rollback()
    report, _ = record_outcomes([(target, slot, result)])
    return report


def delivery(delivery_id):
    db.session.expire_all()
    return db.session.get(Delivery, delivery_id)


def make_retry_due(delivery_id):
    """Skip the wait before the delivery's next attempt, as if it had passed; returns now."""
    now = utcnow()
    db.session.execute(update(Delivery).where(Delivery.id == delivery_id).values(next_attempt_at=now))
    db.session.commit()
    return now


def test_an_opened_incident_writes_one_pending_delivery_per_channel_with_the_notification(channels):
    monitor, channel_ids = channels
    report = record(monitor["id"], SLOT, DOWN)
    assert len(report.opened) == 1 and len(report.deliveries) == 2
    rows = db.session.scalars(select(Delivery).order_by(Delivery.channel_id)).all()
    assert sorted(row.channel_id for row in rows) == sorted(channel_ids)
    for row in rows:
        assert (row.event, row.status, row.attempts, row.incident_id) == ("opened", "pending", 0, report.opened[0])
        assert row.payload["monitorName"] == "Shop API" and row.payload["cause"] == "HTTP 503"
        assert row.payload["link"] == f"http://localhost:8000/monitors/{monitor['id']}"
    resolved = record(monitor["id"], SLOT + 60_000, UP)
    assert len(resolved.resolved) == 1 and len(resolved.deliveries) == 2
    assert db.session.scalar(select(func.count()).select_from(Delivery).where(Delivery.event == "resolved")) == 2


def test_a_foreign_channel_written_straight_into_the_link_table_gets_no_delivery(channels, other_org):
    monitor, channel_ids = channels
    foreign = add_channel(other_org, "globex ops")
    db.session.execute(insert(monitor_channels).values(monitor_id=monitor["id"], channel_id=foreign.id))
    db.session.commit()
    report = record(monitor["id"], SLOT, DOWN)
    assert len(report.opened) == 1
    delivered_to = db.session.scalars(select(Delivery.channel_id)).all()
    assert sorted(delivered_to) == sorted(channel_ids)


def test_a_check_that_changes_nothing_writes_no_delivery(channels):
    monitor, _ = channels
    assert record(monitor["id"], SLOT, UP).deliveries == []
    assert db.session.scalar(select(func.count()).select_from(Delivery)) == 0


def test_deliveries_are_written_in_the_incidents_transaction_or_not_at_all(channels, monkeypatch):
    monitor, _ = channels
    real = jobs.write_deliveries

    def write_then_fail(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("the database went away")

    monkeypatch.setattr(jobs, "write_deliveries", write_then_fail)
    with pytest.raises(RuntimeError):
        record(monitor["id"], SLOT, DOWN)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Delivery)) == 0
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0


def test_a_delivery_is_sent_once_and_marked_sent(app, channels, receiver):
    monitor, _ = channels
    first, second = record(monitor["id"], SLOT, DOWN).deliveries
    assert deliver(app, first) == "sent"
    assert deliver(app, first) is None, "a sent delivery is nobody's to send again"
    (request,) = receiver.wait_for(1)
    assert request.json["text"] == "Shop API is down: HTTP 503"
    row = delivery(first)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None) and row.sent_at is not None
    assert delivery(second).status == "pending"


def test_two_senders_racing_for_a_delivery_send_it_once(app, channels, receiver):
    monitor, _ = channels
    delivery_id = record(monitor["id"], SLOT, DOWN).deliveries[0]
    outcomes = []
    start = threading.Barrier(4)

    def race():
        with app.app_context():
            start.wait()
            outcomes.append(deliver(app, delivery_id))

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes, key=str) == [None, None, None, "sent"]
    assert len(receiver.requests) == 1


def test_a_transient_failure_is_retried_later_with_doubling_waits(app, channels, receiver):
    monitor, _ = channels
    delivery_id = record(monitor["id"], SLOT, DOWN).deliveries[0]
    receiver.answer(500, "oops", times=2)
    before = utcnow()
    assert deliver(app, delivery_id) == "pending"
    row = delivery(delivery_id)
    assert (row.attempts, row.last_error) == (1, "Slack answered HTTP 500: oops")
    assert timedelta(seconds=29) < row.next_attempt_at - before < timedelta(seconds=32)
    assert deliver(app, delivery_id) is None, "a retry handed out before it is due is nobody's to send yet"
    assert delivery(delivery_id).attempts == 1 and len(receiver.requests) == 1
    retried_at = make_retry_due(delivery_id)
    assert deliver(app, delivery_id) == "pending"
    row = delivery(delivery_id)
    assert row.attempts == 2 and timedelta(seconds=59) < row.next_attempt_at - retried_at < timedelta(seconds=63)
    make_retry_due(delivery_id)
    assert deliver(app, delivery_id) == "sent"
    assert delivery(delivery_id).last_error == "Slack answered HTTP 500: oops", "the log keeps what went wrong"


def test_a_retry_waits_at_least_what_retry_after_asks(app, channels, receiver):
    monitor, _ = channels
    delivery_id = record(monitor["id"], SLOT, DOWN).deliveries[0]
    receiver.answer(429, "rate_limited", {"Retry-After": "600"})
    before = utcnow()
    assert deliver(app, delivery_id) == "pending"
    assert delivery(delivery_id).next_attempt_at - before >= timedelta(seconds=600)
    assert deliver(app, delivery_id) is None, "handed out again at once, it is still not due"
    assert due_deliveries(db.session) == []
    assert len(receiver.requests) == 1 and delivery(delivery_id).attempts == 1


def test_after_the_last_attempt_the_delivery_fails(app, channels, receiver):
    monitor, _ = channels
    delivery_id = record(monitor["id"], SLOT, DOWN).deliveries[0]
    attempts = app.extensions["aloft.settings"].delivery_attempts
    receiver.answer(503, "busy", times=attempts)
    outcomes = []
    for _ in range(attempts):
        outcomes.append(deliver(app, delivery_id))
        make_retry_due(delivery_id)
    assert outcomes == ["pending"] * (attempts - 1) + ["failed"]
    row = delivery(delivery_id)
    assert row.attempts == attempts
    assert row.last_error == f"Gave up after {attempts} attempts: Slack answered HTTP 503: busy"
    channel = db.session.get(Channel, row.channel_id)
    assert channel.disabled_reason is None, "running out of retries says nothing sure about the channel"


def test_a_permanent_failure_stops_at_once_and_flags_the_channel(app, channels, receiver):
    monitor, _ = channels
    delivery_id = record(monitor["id"], SLOT, DOWN).deliveries[0]
    receiver.answer(410, "channel_is_archived")
    assert deliver(app, delivery_id) == "failed"
    row = delivery(delivery_id)
    assert row.attempts == 1
    assert db.session.get(Channel, row.channel_id).disabled_reason == row.last_error


def test_the_default_retries_span_more_than_half_an_hour_in_at_least_five_attempts(app):
    settings = app.extensions["aloft.settings"]
    waits = [retry_delay(attempt, settings.delivery_retry_seconds) for attempt in range(1, settings.delivery_attempts)]
    assert settings.delivery_attempts >= 5
    assert sum(waits, timedelta()) >= timedelta(minutes=30)
    assert waits[:3] == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    assert retry_delay(20, 30) == timedelta(hours=1), "never more than an hour between attempts"


def test_the_sweeper_sends_what_is_due_and_nobody_holds(app, channels, receiver):
    monitor, _ = channels
    first, second = record(monitor["id"], SLOT, DOWN).deliveries
    assert due_deliveries(db.session) == [], "fresh deliveries are their writer's to send for a while"
    # One is overdue; the other is held by a sender whose lease has not run out.
    db.session.execute(update(Delivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.execute(
        update(Delivery).where(Delivery.id == second).values(claimed_until=utcnow() + timedelta(minutes=1))
    )
    db.session.commit()
    assert due_deliveries(db.session) == [first]
    executor = EmbeddedExecutor(app)
    try:
        assert Scheduler(lambda: db.session, executor).sweep(db.session, force=True) == 1
        receiver.wait_for(1)
    finally:
        executor.close()
    assert delivery(first).status == "sent" and delivery(second).status == "pending"


def test_a_sender_that_died_mid_send_is_overtaken_once_its_claim_expires(app, channels, receiver):
    monitor, _ = channels
    delivery_id = record(monitor["id"], SLOT, DOWN).deliveries[0]
    expired = utcnow() - timedelta(seconds=1)
    db.session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(attempts=1, claimed_until=expired, next_attempt_at=expired)
    )
    db.session.commit()
    assert due_deliveries(db.session) == [delivery_id]
    assert deliver(app, delivery_id) == "sent"
    assert delivery(delivery_id).attempts == 2
