"""The pagerduty channel type against a local stand-in for the Events API v2."""

from datetime import timedelta

import pytest
from aloft_pagerduty import PagerDutyChannel

from aloft.channels import ChannelTarget, DeliveryError
from aloft.testing import SAMPLE_STARTED, sample_notification

STARTED = SAMPLE_STARTED
KEY = "R0UT1NGKEY0123456789ABCDEFGHIJKL"
notification = sample_notification


def send(receiver, event, severity=None):
    channel_type = PagerDutyChannel(
        PagerDutyChannel.load_server_settings({"ALOFT_PAGERDUTY_EVENTS_URL": receiver.url + "/v2/enqueue"})
    )
    channel_type.timeout = 5
    config = {"routingKey": KEY, **({"severity": severity} if severity else {"severity": "critical"})}
    channel_type.send(ChannelTarget("c-1", "Pager", "pagerduty", config), event)


def test_an_opened_incident_triggers_an_alert_with_the_facts(receiver):
    receiver.answer(202, '{"status":"success","dedup_key":"aloft-i-1"}')
    send(receiver, notification(), severity="error")
    (request,) = receiver.wait_for(1)
    assert request.path == "/v2/enqueue"
    event = request.json
    assert (event["routing_key"], event["event_action"], event["dedup_key"]) == (KEY, "trigger", "aloft-i-1")
    assert event["payload"]["summary"] == "Shop API is down: HTTP 503"
    assert event["payload"]["source"] == "https://shop.example/health"
    assert event["payload"]["severity"] == "error"
    assert event["payload"]["timestamp"] == "2027-01-15T08:00:00.000Z"
    assert event["payload"]["custom_details"]["Cause"] == "HTTP 503"
    assert event["links"] == [{"href": "https://aloft.example/monitors/m-1", "text": "Open in Aloft"}]


def test_the_resolve_and_the_acknowledge_carry_the_triggers_dedup_key(receiver):
    resolved = STARTED + timedelta(minutes=3)
    send(receiver, notification())
    send(receiver, notification("acknowledged", at=resolved, acknowledged_by="ops key"))
    send(receiver, notification("resolved", at=resolved, resolved_at=resolved))
    actions = [(request.json["event_action"], request.json["dedup_key"]) for request in receiver.wait_for(3)]
    assert actions == [("trigger", "aloft-i-1"), ("acknowledge", "aloft-i-1"), ("resolve", "aloft-i-1")]


def test_a_monitor_name_goes_out_as_plain_json_text(receiver):
    send(receiver, notification(monitor_name="{{7*7}}<script>", monitor_target=None))
    (request,) = receiver.wait_for(1)
    assert request.json["payload"]["summary"] == "{{7*7}}<script> is down: HTTP 503"
    assert request.json["payload"]["source"] == "{{7*7}}<script>"


def test_a_test_message_triggers_an_info_alert_and_resolves_it(receiver):
    send(receiver, notification("test", incident_id=None, started_at=None, cause=None, channel_name="Pager"))
    trigger, resolve = (request.json for request in receiver.wait_for(2))
    assert trigger["event_action"] == "trigger" and trigger["payload"]["severity"] == "info"
    assert resolve == {"routing_key": KEY, "dedup_key": trigger["dedup_key"], "event_action": "resolve"}


def test_an_invalid_event_fails_for_good(receiver):
    receiver.answer(400, '{"status":"invalid event","message":"Event object is invalid"}')
    with pytest.raises(DeliveryError) as raised:
        send(receiver, notification())
    assert raised.value.permanent and raised.value.message.startswith("PagerDuty answered HTTP 400")


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"), [(429, {"Retry-After": "12"}, 12.0), (500, {}, None), (503, {}, None)]
)
def test_throttling_and_server_errors_are_retried(receiver, status, headers, retry_after):
    receiver.answer(status, "busy", headers)
    with pytest.raises(DeliveryError) as raised:
        send(receiver, notification())
    assert (raised.value.permanent, raised.value.retry_after) == (False, retry_after)
