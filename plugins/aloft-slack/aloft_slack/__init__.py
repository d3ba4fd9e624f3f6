"""The ``slack`` channel type: incidents posted to a Slack incoming webhook.

The message names the monitor, what happened, the cause, the time and a link to the
monitor in Aloft; a resolved message says how long it was down. It is built from fixed
fields as plain text (no ``mrkdwn``), with ``&``, ``<`` and ``>`` escaped, so a monitor's
name comes out as typed: it can neither format the message, nor link, nor mention ``@channel``.

Slack's answers: 404, 410 and 403 (and a 400 ``invalid_token``) mean the webhook is gone or
revoked, so the delivery fails at once and the channel is flagged; 429 is retried after its
``Retry-After``; 5xx and network errors are retried with backoff.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validates

import aloft
from aloft.channels import ChannelTarget, ChannelType, DeliveryError, Notification
from aloft.webhooks import WebhookResponse, post_json, refusal

__version__ = "0.1.0"

#: What Slack's answers mean (https://api.slack.com/messaging/webhooks#handling_errors).
GONE = frozenset({403, 404, 410})
ICONS = {"opened": ":red_circle:", "resolved": ":large_green_circle:", "acknowledged": ":eyes:", "test": ":wave:"}


class SlackConfig(Schema):
    """A Slack channel: the incoming webhook's URL (a secret: it is masked in every answer)."""

    class Meta:
        unknown = RAISE

    webhook_url = fields.String(
        data_key="webhookUrl",
        required=True,
        metadata={
            "description": "Incoming webhook URL, e.g. https://hooks.slack.com/services/T…/B…/…",
            # What an_http_url() takes, for the OpenAPI document (no text holds NUL).
            "pattern": "^https?://[^\\u0000]*$",
            "maxLength": 2048,
        },
    )

    @validates("webhook_url")
    def an_http_url(self, value: str, **kwargs: Any) -> None:
        if not value.startswith(("https://", "http://")) or len(value) > 2048 or len(value.split("/", 3)) < 3:
            raise ValidationError("Must be the webhook's http(s) URL.")


class SlackChannel(ChannelType):
    """Post to a Slack incoming webhook (or a Slack-compatible one: Mattermost, Rocket.Chat)."""

    name = "slack"
    description = "Post incidents to a Slack incoming webhook."
    config_schema = SlackConfig
    secret_fields = ("webhookUrl",)

    def send(self, channel: ChannelTarget, notification: Notification) -> None:
        response = post_json(channel.config["webhookUrl"], message(notification), timeout=self.timeout)
        if not response.ok:
            raise classify(response)


def classify(response: WebhookResponse) -> DeliveryError:
    """What a failed post means: gone for good, or worth another try."""
    if response.status in GONE or (response.status == 400 and "invalid_token" in response.body):
        return DeliveryError(
            f"Slack answered HTTP {response.status} {response.body.strip()[:100]}: the webhook is gone or revoked",
            permanent=True,
        )
    return refusal(response, "Slack")


def escape(text: str) -> str:
    """Slack's three control characters, escaped as Slack asks (https://api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str, limit: int) -> dict[str, Any]:
    """A plain_text object: Slack formats nothing in it, so ``*``, ``_`` and ``@channel`` stay as typed."""
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return {"type": "plain_text", "text": escape(text), "emoji": True}


def message(notification: Notification) -> dict[str, Any]:
    """The webhook's JSON: an unformatted ``text`` (what notifications show) and blocks with the facts."""
    facts = [f"{label}: {value}" for label, value in notification.lines() if label != "Details"]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain(f"{ICONS[notification.kind]} {notification.title}", 150)},
        {"type": "section", "fields": [plain(fact, 2000) for fact in facts[:10]]},
    ]
    if notification.kind != "test":
        button = {"type": "button", "text": plain("Open in Aloft", 75), "url": notification.link}
        blocks.append({"type": "actions", "elements": [button]})
    return {"text": escape(notification.title), "mrkdwn": False, "blocks": blocks}


@aloft.hookimpl
def register_channel_types() -> list[type[ChannelType]]:
    return [SlackChannel]
