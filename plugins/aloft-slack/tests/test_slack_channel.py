"""The slack channel type against a local stand-in for Slack's webhook."""

from datetime import timedelta

import pytest
from aloft_slack import SlackChannel

from aloft.channels import ChannelTarget, DeliveryError, Notification
from aloft.testing import SAMPLE_STARTED, sample_notification

STARTED = SAMPLE_STARTED


def notification(kind="opened", name="Shop API", **fields):
    return sample_notification(kind, monitor_name=name, **fields)


def send(receiver, event, path="/services/T0/B0/secret"):
    channel = ChannelTarget("c-1", "On-call", "slack", {"webhookUrl": receiver.url + path})
    SlackChannel().send(channel, event)
    (request,) = receiver.wait_for(1)
    return request


def texts(payload):
    """Every piece of text Slack would show."""
    found = [payload["text"]]
    for block in payload["blocks"]:
        if "text" in block:
            found.append(block["text"]["text"])
        found += [field["text"] for field in block.get("fields", [])]
        found += [element["text"]["text"] for element in block.get("elements", [])]
    return found


def test_an_opened_incident_names_the_monitor_the_cause_the_time_and_links_to_aloft(receiver):
    request = send(receiver, notification())
    assert (request.method, request.path) == ("POST", "/services/T0/B0/secret")
    assert request.headers["content-type"] == "application/json"
    payload = request.json
    assert payload["text"] == "Shop API is down: HTTP 503"
    assert payload["blocks"][0]["text"]["text"] == ":red_circle: Shop API is down: HTTP 503"
    facts = [field["text"] for field in payload["blocks"][1]["fields"]]
    assert "Cause: HTTP 503" in facts and "Down since: 2027-01-15 08:00:00 UTC" in facts
    assert "Target: https://shop.example/health" in facts
    (button,) = payload["blocks"][2]["elements"]
    assert button["url"] == "https://aloft.example/monitors/m-1"


def test_a_resolved_message_says_how_long_it_was_down(receiver):
    resolved = STARTED + timedelta(minutes=6, seconds=10)
    payload = send(receiver, notification("resolved", at=resolved, resolved_at=resolved)).json
    assert payload["text"] == "Shop API is up again after 6m 10s"
    facts = [field["text"] for field in payload["blocks"][1]["fields"]]
    assert "Down for: 6m 10s" in facts and "Was: HTTP 503" in facts


def test_a_monitor_name_comes_out_literally_with_slacks_control_characters_escaped(receiver):
    request = send(receiver, notification(name="{{7*7}}<script> @channel <!here> *bold*"))
    body = request.body.decode()
    assert "<script>" not in body and "<!here>" not in body
    assert request.json["mrkdwn"] is False
    assert all(block.get("text", {}).get("type", "plain_text") == "plain_text" for block in request.json["blocks"])
    assert "{{7*7}}&lt;script&gt; @channel &lt;!here&gt; *bold* is down: HTTP 503" in texts(request.json)
    assert not any("49" in text for text in texts(request.json))


@pytest.mark.parametrize(
    ("status", "body"),
    [(404, "no_service"), (410, "channel_is_archived"), (403, "action_prohibited"), (400, "invalid_token")],
)
def test_a_webhook_that_is_gone_or_revoked_fails_for_good(receiver, status, body):
    receiver.answer(status, body)
    with pytest.raises(DeliveryError) as raised:
        send(receiver, notification())
    assert raised.value.permanent
    assert f"HTTP {status}" in raised.value.message and "gone or revoked" in raised.value.message


def test_too_many_requests_is_retried_no_sooner_than_retry_after(receiver):
    receiver.answer(429, "rate_limited", {"Retry-After": "30"})
    with pytest.raises(DeliveryError) as raised:
        send(receiver, notification())
    assert (raised.value.permanent, raised.value.retry_after) == (False, 30.0)


def test_a_server_error_is_retried(receiver):
    receiver.answer(500, "oops")
    with pytest.raises(DeliveryError) as raised:
        send(receiver, notification())
    assert not raised.value.permanent and raised.value.message == "Slack answered HTTP 500: oops"


def test_a_webhook_nobody_answers_is_retried(closed_port):
    channel = ChannelTarget("c-1", "On-call", "slack", {"webhookUrl": f"http://127.0.0.1:{closed_port}/hook"})
    with pytest.raises(DeliveryError) as raised:
        SlackChannel().send(channel, notification())
    assert (raised.value.permanent, raised.value.message) == (False, "Connection refused")


def test_a_webhook_on_a_cloud_metadata_address_is_never_contacted(resolve_as):
    resolve_as({"hooks.evil.example": ["169.254.169.254"]})
    channel = ChannelTarget("c-1", "On-call", "slack", {"webhookUrl": "http://hooks.evil.example/x"})
    with pytest.raises(DeliveryError) as raised:
        SlackChannel().send(channel, notification())
    assert raised.value.permanent and raised.value.message.startswith("Target refused by policy: 169.254.169.254")


def test_a_test_message_says_which_channel_it_tests(receiver):
    test = Notification(
        kind="test",
        at=STARTED,
        monitor_id="",
        monitor_name="On-call",
        monitor_type="slack",
        monitor_target=None,
        link="https://aloft.example",
        channel_name="On-call",
    )
    payload = send(receiver, test).json
    assert payload["text"] == "Test notification from Aloft for On-call"
    assert len(payload["blocks"]) == 2, "no button: there is no monitor to open"
