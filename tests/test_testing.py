"""aloft.testing as a plugin's tests use it: the outbox sent on demand, and a public surface the guide documents."""

import re
import time
from pathlib import Path

import aloft.testing
from aloft.channels import Notification
from aloft.extensions import db
from aloft.models import Delivery

GUIDE = Path(__file__).parent.parent / "docs" / "plugins.md"


def slack_channel(client, auth_headers, url, name="ops"):
    body = {"name": name, "type": "slack", "config": {"webhookUrl": url}}
    return client.post("/api/v1/channels", json=body, headers=auth_headers).json["channel"]


def down_monitor(make_monitor, resolve_as, channel):
    """A tcp monitor of a name that does not resolve (a closed port could be taken meanwhile); opens at once."""
    resolve_as({})
    return make_monitor("tcp", url="nowhere.test:80", confirmationCount=1, channelIds=[channel["id"]])


def test_send_outbox_sends_what_a_confirmed_outage_wrote_through_the_channel_type(
    client, auth_headers, make_monitor, run_check, send_outbox, receiver, resolve_as
):
    channel = slack_channel(client, auth_headers, f"{receiver.url}/hooks/ops")
    monitor = down_monitor(make_monitor, resolve_as, channel)
    run = run_check(monitor["id"])
    (delivery_id,) = run.report.deliveries
    (outcome,) = send_outbox()
    assert (outcome.delivery_id, outcome.event, outcome.channel_name) == (delivery_id, "opened", "ops")
    assert (outcome.status, outcome.attempts, outcome.last_error) == ("sent", 1, None)
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", "/hooks/ops")
    assert request.headers["content-type"] == "application/json"
    assert request.json["text"] == "tcp monitor is down: DNS: cannot resolve nowhere.test"
    assert send_outbox() == [], "a sent delivery is not sent again"


def test_send_outbox_reports_a_message_the_background_sender_sent_first(
    client, auth_headers, make_monitor, run_check, send_outbox, receiver, resolve_as
):
    channel = slack_channel(client, auth_headers, f"{receiver.url}/hooks/ops")
    monitor = down_monitor(make_monitor, resolve_as, channel)
    (delivery_id,) = run_check(monitor["id"]).report.deliveries
    deadline = time.monotonic() + 30
    while delivery_status(delivery_id) == "pending" and time.monotonic() < deadline:
        time.sleep(0.02)  # this process's sender threads send it meanwhile
    assert delivery_status(delivery_id) == "sent"
    (outcome,) = send_outbox()
    assert (outcome.delivery_id, outcome.status, outcome.attempts) == (delivery_id, "sent", 1)
    assert len(receiver.requests) == 1
    assert send_outbox() == []


def delivery_status(delivery_id):
    status = db.session.get(Delivery, delivery_id).status
    db.session.rollback()
    return status


def test_send_outbox_makes_one_attempt_and_reports_a_retry_still_pending(
    client, auth_headers, make_monitor, run_check, send_outbox, receiver, resolve_as
):
    receiver.answer(503, "busy", times=10)
    channel = slack_channel(client, auth_headers, f"{receiver.url}/hooks/ops")
    monitor = down_monitor(make_monitor, resolve_as, channel)
    run_check(monitor["id"])
    (outcome,) = send_outbox()
    assert outcome.status == "pending" and "503" in outcome.last_error
    (retried,) = send_outbox()
    assert retried.status == "pending" and retried.attempts == outcome.attempts + 1


def test_the_public_surface_is_what_the_guide_documents():
    guide = GUIDE.read_text(encoding="utf-8")
    section = guide[guide.index("## Test it with `aloft.testing`") : guide.index("## Hooks")]
    channel_section = guide[guide.index("### Test a channel type") :]
    documented = set(re.findall(r"`([A-Za-z_]+)`", section + channel_section))
    assert set(aloft.testing.__all__) <= documented, set(aloft.testing.__all__) - documented
    for name in aloft.testing.__all__:
        assert hasattr(aloft.testing, name), name


def test_a_sample_test_message_is_what_the_api_sends():
    sample = aloft.testing.sample_notification("test")
    assert sample == Notification.test_message(
        channel_name="Ops", channel_type="webhook", at=aloft.testing.SAMPLE_STARTED, base_url="https://aloft.example"
    )
    assert (sample.monitor_id, sample.monitor_name, sample.incident_id, sample.channel_name) == ("", "Ops", None, "Ops")
    assert sample.title == "Test notification from Aloft for Ops"
