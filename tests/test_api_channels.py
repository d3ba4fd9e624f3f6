"""/api/v1/channels: channels of enabled types, secrets masked, a test message, the delivery log."""

import pytest
from api_support import bearer, create_monitor

from aloft.app import create_app
from aloft.config import ConfigError
from aloft.extensions import db
from aloft.models import Channel, Delivery, Organization
from aloft.testing import issue_key, make_settings


def slack(receiver, name="On-call", path="/hooks/on-call"):
    return {"name": name, "type": "slack", "config": {"webhookUrl": receiver.url + path}}


def deliveries(client, headers, channel_id, query=""):
    return client.get(f"/api/v1/channels/{channel_id}/deliveries{query}", headers=headers).json


def create(client, headers, body):
    response = client.post("/api/v1/channels", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json["channel"]


def test_a_channel_is_created_read_listed_changed_and_deleted(client, auth_headers, receiver):
    channel = create(client, auth_headers, slack(receiver))
    assert set(channel) == {"id", "name", "type", "config", "createdAt", "updatedAt", "problem"}
    assert (channel["name"], channel["type"], channel["problem"]) == ("On-call", "slack", None)
    assert client.get(f"/api/v1/channels/{channel['id']}", headers=auth_headers).json == {"channel": channel}
    assert client.get("/api/v1/channels", headers=auth_headers).json == {"channels": [channel]}

    renamed = client.patch(f"/api/v1/channels/{channel['id']}", json={"name": "Ops"}, headers=auth_headers)
    assert renamed.status_code == 200 and renamed.json["channel"]["name"] == "Ops"
    replaced = client.put(f"/api/v1/channels/{channel['id']}", json=slack(receiver, "Pager"), headers=auth_headers)
    assert replaced.json["channel"]["name"] == "Pager"

    monitor = create_monitor(client, auth_headers, channelIds=[channel["id"]])
    assert client.delete(f"/api/v1/channels/{channel['id']}", headers=auth_headers).json == {"ok": True}
    assert client.get(f"/api/v1/channels/{channel['id']}", headers=auth_headers).status_code == 404
    detail = client.get(f"/api/v1/monitors/{monitor['id']}", headers=auth_headers).json
    assert detail["monitor"]["channelIds"] == [], "deleting a channel detaches it from its monitors"


def test_channels_page_with_limit_and_cursor(client, auth_headers, receiver):
    ids = [create(client, auth_headers, slack(receiver, f"c{i}"))["id"] for i in range(5)]
    first = client.get("/api/v1/channels?limit=2", headers=auth_headers).json
    second = client.get(f"/api/v1/channels?limit=2&cursor={first['nextCursor']}", headers=auth_headers).json
    third = client.get(f"/api/v1/channels?limit=2&cursor={second['nextCursor']}", headers=auth_headers).json
    assert [c["id"] for c in first["channels"] + second["channels"] + third["channels"]] == ids
    assert third["nextCursor"] is None
    bad = client.get("/api/v1/channels?cursor=nonsense", headers=auth_headers)
    assert bad.status_code == 400 and bad.json["issues"][0]["path"] == ["cursor"]


def test_unknown_fields_and_types_are_refused_naming_the_enabled_types(client, auth_headers, receiver):
    unknown = client.post("/api/v1/channels", json={**slack(receiver), "color": "red"}, headers=auth_headers)
    assert unknown.status_code == 400 and unknown.json["issues"] == [{"path": ["color"], "message": "Unknown field."}]
    wrong_type = client.post("/api/v1/channels", json={**slack(receiver), "type": "pigeon"}, headers=auth_headers)
    assert wrong_type.status_code == 400
    (issue,) = wrong_type.json["issues"]
    assert issue["path"] == ["type"]
    assert issue["message"] == (
        "Channel type 'pigeon' is not enabled on this server. Enabled types: email, pagerduty, slack."
    )


@pytest.fixture
def slack_only(tmp_path, aloft_database_url):
    """An app on which ALOFT_CHANNELS enables Slack only, with an organization and a key."""
    app = create_app(make_settings(tmp_path / "data", aloft_database_url, ALOFT_CHANNELS="slack"))
    with app.app_context():
        organization = Organization(slug="only-slack", name="Only Slack")
        db.session.add(organization)
        db.session.commit()
        yield app, bearer(issue_key(app, organization)[1])
        db.session.execute(Organization.__table__.delete())
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def test_aloft_channels_enables_a_subset_and_the_rest_cannot_be_chosen(slack_only, receiver):
    app, headers = slack_only
    client = app.test_client()
    assert sorted(app.extensions["aloft.channel_types"]) == ["slack"]
    refused = client.post(
        "/api/v1/channels",
        json={"name": "Pager", "type": "pagerduty", "config": {"routingKey": "R0UT1NGKEY0123456789ABCDEFGHIJKL"}},
        headers=headers,
    )
    assert refused.status_code == 400
    assert refused.json["issues"] == [
        {"path": ["type"], "message": "Channel type 'pagerduty' is not enabled on this server. Enabled types: slack."}
    ]
    assert client.post("/api/v1/channels", json=slack(receiver), headers=headers).status_code == 201


def test_aloft_channels_naming_a_type_that_is_not_installed_stops_the_server(tmp_path, aloft_database_url):
    with pytest.raises(ConfigError, match=r"ALOFT_CHANNELS: no channel type 'slak' is installed \(installed: email"):
        create_app(make_settings(tmp_path / "data", aloft_database_url, ALOFT_CHANNELS="slack,slak"))


def test_a_masked_value_of_no_stored_secret_is_refused(client, auth_headers):
    masked = {"name": "x", "type": "slack", "config": {"webhookUrl": "https://hooks.slack.com/…XXXX"}}
    response = client.post("/api/v1/channels", json=masked, headers=auth_headers)
    assert response.status_code == 400
    assert response.json["issues"][0]["path"] == ["config", "webhookUrl"]


def test_changing_the_type_replaces_the_config(client, auth_headers, receiver):
    channel = create(client, auth_headers, slack(receiver))
    changed = client.patch(
        f"/api/v1/channels/{channel['id']}",
        json={"type": "pagerduty", "config": {"routingKey": "R0UT1NGKEY0123456789ABCDEFGHIJKL"}},
        headers=auth_headers,
    )
    assert changed.status_code == 200
    assert changed.json["channel"]["config"] == {"routingKey": "…IJKL", "severity": "critical"}


def test_a_test_message_is_sent_now_and_reported_in_the_log(client, auth_headers, receiver):
    channel = create(client, auth_headers, slack(receiver))
    tested = client.post(f"/api/v1/channels/{channel['id']}/test", headers=auth_headers)
    assert tested.status_code == 200
    delivery = tested.json["delivery"]
    assert (delivery["event"], delivery["status"], delivery["attempts"], delivery["lastError"]) == (
        "test",
        "sent",
        1,
        None,
    )
    assert delivery["sentAt"] is not None and delivery["incidentId"] is None
    (request,) = receiver.wait_for(1)
    assert request.json["text"] == "Test notification from Aloft for On-call"
    assert deliveries(client, auth_headers, channel["id"]) == {"deliveries": [delivery], "nextCursor": None}


def test_a_failed_test_reports_the_error_flags_the_channel_and_a_later_success_clears_it(
    client, auth_headers, receiver
):
    channel = create(client, auth_headers, slack(receiver))
    receiver.answer(404, "no_service")
    failed = client.post(f"/api/v1/channels/{channel['id']}/test", headers=auth_headers).json["delivery"]
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert failed["lastError"] == "Slack answered HTTP 404 no_service: the webhook is gone or revoked"
    flagged = client.get(f"/api/v1/channels/{channel['id']}", headers=auth_headers).json["channel"]
    assert flagged["problem"] == failed["lastError"]

    receiver.answer(500, "oops")
    transient = client.post(f"/api/v1/channels/{channel['id']}/test", headers=auth_headers).json["delivery"]
    assert transient["status"] == "failed", "a test is not retried"

    assert client.post(f"/api/v1/channels/{channel['id']}/test", headers=auth_headers).json["delivery"]["status"] == (
        "sent"
    )
    assert client.get(f"/api/v1/channels/{channel['id']}", headers=auth_headers).json["channel"]["problem"] is None
    statuses = [d["status"] for d in deliveries(client, auth_headers, channel["id"])["deliveries"]]
    assert statuses == ["sent", "failed", "failed"], "newest first"


def test_the_delivery_log_pages_newest_first(client, auth_headers, org, receiver):
    channel = create(client, auth_headers, slack(receiver))
    for _ in range(3):
        client.post(f"/api/v1/channels/{channel['id']}/test", headers=auth_headers)
    everything = [d["id"] for d in deliveries(client, auth_headers, channel["id"])["deliveries"]]
    first = deliveries(client, auth_headers, channel["id"], "?limit=2")
    rest = deliveries(client, auth_headers, channel["id"], f"?limit=2&cursor={first['nextCursor']}")
    assert [d["id"] for d in first["deliveries"] + rest["deliveries"]] == everything
    assert len(everything) == 3 and rest["nextCursor"] is None
    stored = db.session.scalars(
        Delivery.__table__.select().with_only_columns(Delivery.id).order_by(Delivery.created_at.desc())
    ).all()
    assert set(stored) == set(everything)


def test_another_orgs_channel_cannot_be_used_by_a_monitor(client, auth_headers, other_org):
    foreign = Channel(org_id=other_org.id, name="theirs", type="slack", config={"webhookUrl": "http://127.0.0.1:9/x"})
    db.session.add(foreign)
    db.session.commit()
    response = client.post(
        "/api/v1/monitors",
        json={"name": "x", "type": "http", "url": "https://example.com", "channelIds": [foreign.id]},
        headers=auth_headers,
    )
    assert response.status_code == 403
    assert response.json == {"error": f"Channel {foreign.id} does not belong to this organization"}
