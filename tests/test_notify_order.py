"""Messages of one incident reach a channel in the order they were written, whatever fails in between."""

from datetime import timedelta

import pytest
from api_support import create_monitor
from sqlalchemy import update

from aloft.checks import CheckResult
from aloft.engine.jobs import load_targets, record_outcomes
from aloft.extensions import db
from aloft.models import Delivery, utcnow
from aloft.notify.sending import deliver, due_deliveries

SLOT = 1_800_000_000_000
DOWN = CheckResult(ok=False, latency_ms=2.0, cause="HTTP 503")
UP = CheckResult(ok=True, latency_ms=2.0)


@pytest.fixture
def monitor(client, auth_headers, receiver):
    """A monitor with one Slack channel on the receiver; it opens on the first failure."""
    channel = client.post(
        "/api/v1/channels",
        json={"name": "ops", "type": "slack", "config": {"webhookUrl": f"{receiver.url}/ops"}},
        headers=auth_headers,
    ).json["channel"]
    return create_monitor(client, auth_headers, name="Shop API", confirmationCount=1, channelIds=[channel["id"]])


def record(monitor_id, slot, result):
    (target,) = load_targets([monitor_id])
    db.session.rollback()
    report, _ = record_outcomes([(target, slot, result)])
    return report.deliveries


def status(delivery_id):
    db.session.expire_all()
    return db.session.get(Delivery, delivery_id).status


def test_a_resolved_message_waits_for_the_opened_one_that_is_being_retried(app, monitor, receiver):
    receiver.answer(503, "busy")
    (opened,) = record(monitor["id"], SLOT, DOWN)
    assert deliver(app, opened) == "pending", "a transient failure: retried later"
    (resolved,) = record(monitor["id"], SLOT + 60_000, UP)
    assert deliver(app, resolved) is None, "held back behind the opened message"
    db.session.execute(update(Delivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert due_deliveries(db.session) == [opened], "the sweeper hands out only the first in line"
    assert deliver(app, opened) == "sent"
    assert status(resolved) == "sent", "the sender sends the message it held back next"
    texts = [request.json["text"] for request in receiver.wait_for(3)]
    assert texts[0] == texts[1] == "Shop API is down: HTTP 503"
    assert texts[2].startswith("Shop API is up again after")


def test_a_message_that_failed_for_good_lets_the_next_one_go(app, monitor, receiver):
    receiver.answer(404, "no such webhook")
    (opened,) = record(monitor["id"], SLOT, DOWN)
    (resolved,) = record(monitor["id"], SLOT + 60_000, UP)
    assert deliver(app, opened) == "failed"
    assert status(resolved) == "sent"
    first, second = (request.json["text"] for request in receiver.wait_for(2))
    assert first.startswith("Shop API is down") and second.startswith("Shop API is up again")
