"""The ``pagerduty`` channel type: incidents as PagerDuty Events API v2 alerts.

An incident that opens triggers an alert, its resolution resolves it and its
acknowledgement acknowledges it, all with one ``dedup_key`` per Aloft incident: a replayed
delivery adds nothing in PagerDuty, and the resolve closes exactly the alert the trigger
opened. PagerDuty's answers: 202 accepted; 400 (an invalid event) fails for good; 429 and
5xx are retried.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields, validate

import aloft
from aloft.channels import ChannelTarget, ChannelType, Notification
from aloft.times import isoformat_z
from aloft.webhooks import post_json, refusal

__version__ = "0.1.0"

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITIES = ("critical", "error", "warning", "info")
ACTIONS = {"opened": "trigger", "resolved": "resolve", "acknowledged": "acknowledge"}
#: PagerDuty's limits on an alert's summary and source.
SUMMARY_LENGTH = 1024
SOURCE_LENGTH = 255


class PagerDutyConfig(Schema):
    """A PagerDuty channel: an Events API v2 integration key (a secret: masked in every answer)."""

    class Meta:
        unknown = RAISE

    routing_key = fields.String(
        data_key="routingKey",
        required=True,
        validate=validate.Regexp(r"^[A-Za-z0-9]{20,64}$", error="Must be an Events API v2 integration key."),
        metadata={"description": "The integration key of a PagerDuty service's Events API v2 integration."},
    )
    severity = fields.String(
        load_default="critical",
        validate=validate.OneOf(SEVERITIES),
        metadata={"description": "Severity of the alerts: critical (default), error, warning or info."},
    )


class PagerDutySettings(Schema):
    """Where events go: ``ALOFT_PAGERDUTY_EVENTS_URL`` (a proxy, or a stand-in in tests)."""

    events_url = fields.Url(data_key="ALOFT_PAGERDUTY_EVENTS_URL", load_default=EVENTS_URL, require_tld=False)


class PagerDutyChannel(ChannelType):
    """Trigger, acknowledge and resolve PagerDuty alerts, one per Aloft incident."""

    name = "pagerduty"
    description = "Trigger and resolve PagerDuty alerts through the Events API v2."
    config_schema = PagerDutyConfig
    secret_fields = ("routingKey",)
    server_settings_schema = PagerDutySettings

    def send(self, channel: ChannelTarget, notification: Notification) -> None:
        for event in events(channel.config, notification):
            response = post_json(self.settings["events_url"], event, timeout=self.timeout)
            if not response.ok:
                raise refusal(response, "PagerDuty")


def dedup_key(notification: Notification) -> str:
    """One per Aloft incident (per test message), so every event about it lands on one alert."""
    return f"aloft-{notification.incident_id or 'test-' + notification.at.strftime('%Y%m%dT%H%M%S%f')}"


def events(config: dict[str, Any], notification: Notification) -> list[dict[str, Any]]:
    """The Events API v2 bodies for ``notification``: one, or for a test a trigger and its resolve."""
    key = dedup_key(notification)
    base = {"routing_key": config["routingKey"], "dedup_key": key}
    if notification.kind in ("resolved", "acknowledged"):
        return [{**base, "event_action": ACTIONS[notification.kind]}]
    trigger = {
        **base,
        "event_action": "trigger",
        "client": "Aloft",
        "client_url": notification.link,
        "payload": {
            "summary": notification.title[:SUMMARY_LENGTH],
            "source": (notification.monitor_target or notification.monitor_name)[:SOURCE_LENGTH],
            "severity": "info" if notification.kind == "test" else config.get("severity", "critical"),
            "timestamp": isoformat_z(notification.started_at or notification.at),
            "component": notification.monitor_name,
            "class": notification.monitor_type,
            "custom_details": dict(notification.lines()),
        },
        "links": [{"href": notification.link, "text": "Open in Aloft"}],
    }
    if notification.kind == "test":
        return [trigger, {**base, "event_action": "resolve"}]
    return [trigger]


@aloft.hookimpl
def register_channel_types() -> list[type[ChannelType]]:
    return [PagerDutyChannel]
