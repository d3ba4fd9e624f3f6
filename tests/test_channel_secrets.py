"""Channel secrets at rest: the database holds them sealed, the API masks them, the sender opens them."""

import json

import pytest
from api_support import bearer
from sqlalchemy import text

from aloft.app import create_app
from aloft.extensions import db
from aloft.models import Organization
from aloft.notify.channel_secrets import SEALED, UnreadableSecret, seal, unseal
from aloft.testing import TEST_SECRET_KEY, issue_key, make_settings

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"


def raw_config(channel_id: str) -> str:
    """The channel's config exactly as the database holds it."""
    with db.engine.connect() as connection:
        return connection.execute(
            text("SELECT CAST(config AS TEXT) FROM channels WHERE id = :id"), {"id": channel_id}
        ).scalar_one()


def create(client, headers, body):
    response = client.post("/api/v1/channels", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json["channel"]


def test_the_database_holds_no_secret_in_clear_and_the_sender_still_sends(client, auth_headers, receiver):
    webhook = f"{receiver.url}/hooks/T0/B0/s3cretpath"
    slack = create(client, auth_headers, {"name": "ops", "type": "slack", "config": {"webhookUrl": webhook}})
    pager = create(client, auth_headers, {"name": "pager", "type": "pagerduty", "config": {"routingKey": ROUTING_KEY}})
    path = f"/api/v1/channels/{slack['id']}"
    assert client.patch(path, json={"name": "Ops"}, headers=auth_headers).status_code == 200
    assert client.put(path, json={**slack, "name": "On-call"}, headers=auth_headers).status_code == 200  # masked back
    for channel, secret in ((slack, "s3cretpath"), (pager, ROUTING_KEY[4:-4])):
        stored = raw_config(channel["id"])
        assert secret not in stored and stored.count(SEALED) == 1, stored
    assert json.loads(raw_config(pager["id"]))["severity"] == "critical", "non-secret fields stay readable"
    delivery = client.post(f"{path}/test", headers=auth_headers).json["delivery"]
    assert delivery["status"] == "sent"
    (request,) = receiver.wait_for(1)
    assert request.path == "/hooks/T0/B0/s3cretpath"


def test_a_sealed_value_differs_every_time_and_opens_only_with_its_key():
    first, second = seal(TEST_SECRET_KEY, "xoxb-secret"), seal(TEST_SECRET_KEY, "xoxb-secret")
    assert first != second and "xoxb" not in first
    assert unseal(TEST_SECRET_KEY, first) == unseal(TEST_SECRET_KEY, second) == "xoxb-secret"
    with pytest.raises(UnreadableSecret):
        unseal("another-secret-key-0123456789", first)
    assert unseal(TEST_SECRET_KEY, "https://stored.before/0008") == "https://stored.before/0008"


def test_after_the_secret_key_changes_the_channel_fails_visibly_until_its_secret_is_sent_again(
    client, auth_headers, org, receiver, tmp_path, aloft_database_url
):
    webhook = f"{receiver.url}/hooks/ops"
    channel = create(client, auth_headers, {"name": "ops", "type": "slack", "config": {"webhookUrl": webhook}})
    path = f"/api/v1/channels/{channel['id']}"
    changed = create_app(make_settings(tmp_path, aloft_database_url, ALOFT_SECRET_KEY="another-secret-key-0123456789"))
    with changed.app_context():
        _, token = issue_key(changed, db.session.get(Organization, org.id), "after the change")
        other = changed.test_client()
        failed = other.post(f"{path}/test", headers=bearer(token)).json["delivery"]
        reason = "Cannot read this channel's webhookUrl: it was saved under another ALOFT_SECRET_KEY; enter it again"
        assert (failed["status"], failed["lastError"]) == ("failed", reason)
        shown = other.get(path, headers=bearer(token)).json["channel"]
        assert shown["config"] == {"webhookUrl": "…"} and shown["problem"] == reason
        renamed = other.patch(path, json={"name": "Ops"}, headers=bearer(token))
        assert renamed.status_code == 400
        assert renamed.json["issues"] == [
            {"path": ["config", "webhookUrl"], "message": "Missing data for required field."}
        ]
        masked_back = other.put(path, json=shown, headers=bearer(token))
        assert masked_back.status_code == 400 and masked_back.json["issues"][0]["path"] == ["config", "webhookUrl"]
        assert other.patch(path, json={"config": {"webhookUrl": webhook}}, headers=bearer(token)).status_code == 200
        assert other.post(f"{path}/test", headers=bearer(token)).json["delivery"]["status"] == "sent"
        db.session.remove()
        db.engine.dispose()
    receiver.wait_for(1)
