"""Slack channels through the API: the webhook URL is required, validated and masked."""

from aloft.extensions import db
from aloft.models import Channel
from aloft.notify.channel_secrets import unseal_config
from aloft.testing import TEST_SECRET_KEY

WEBHOOK = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXX"


def create(client, auth_headers, config):
    return client.post(
        "/api/v1/channels", json={"name": "On-call", "type": "slack", "config": config}, headers=auth_headers
    )


def test_a_slack_channel_needs_its_webhook_url(client, auth_headers):
    for config, path in [
        ({}, ["config", "webhookUrl"]),
        ({"webhookUrl": "hooks.slack.com/x"}, ["config", "webhookUrl"]),
        ({"webhookUrl": WEBHOOK, "channel": "#ops"}, ["config", "channel"]),
    ]:
        response = create(client, auth_headers, config)
        assert response.status_code == 400, config
        assert path in [issue["path"] for issue in response.json["issues"]], response.json


def test_the_webhook_url_is_masked_and_a_masked_value_sent_back_keeps_it(client, auth_headers):
    created = create(client, auth_headers, {"webhookUrl": WEBHOOK})
    assert created.status_code == 201
    channel = created.json["channel"]
    assert channel["config"] == {"webhookUrl": "https://hooks.slack.com/…XXXX"}
    assert WEBHOOK not in created.get_data(as_text=True)
    replaced = client.put(f"/api/v1/channels/{channel['id']}", json={**channel, "name": "Ops"}, headers=auth_headers)
    assert replaced.status_code == 200 and replaced.json["channel"]["name"] == "Ops"
    stored = db.session.get(Channel, channel["id"]).config
    assert unseal_config(TEST_SECRET_KEY, stored) == {"webhookUrl": WEBHOOK} and WEBHOOK not in str(stored)
