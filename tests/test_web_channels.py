"""The channels pages: create from the type's config schema, secrets masked, a test message and its log."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from people_support import person
from people_support import sign_in as people_sign_in
from sqlalchemy import select
from web_support import csrf

from aloft.extensions import db
from aloft.models import Channel, Organization


@pytest.fixture
def member(client: FlaskClient, org: Organization) -> FlaskClient:
    person(org, "member")
    assert people_sign_in(client).status_code == 302
    return client


def create_slack(client: FlaskClient, url: str, name: str = "On-call") -> str:
    answer = client.post(
        "/channels/new",
        data={
            "csrf_token": csrf(client, "/channels/new"),
            "name": name,
            "type": "slack",
            "config.slack.webhookUrl": url,
        },
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return db.session.scalar(select(Channel.id).where(Channel.name == name))


def test_a_channel_is_created_listed_and_its_secret_masked(member: FlaskClient, receiver) -> None:
    secret = receiver.url + "/hooks/T0001/B0001/abcdefghijkl"
    channel_id = create_slack(member, secret)
    assert "On-call" in member.get("/channels").get_data(as_text=True)
    for page in (f"/channels/{channel_id}", f"/channels/{channel_id}/edit"):
        text = member.get(page).get_data(as_text=True)
        assert secret not in text and "…ijkl" in text, page


def test_an_edit_that_keeps_the_masked_secret_keeps_the_stored_one(member: FlaskClient, receiver) -> None:
    channel_id = create_slack(member, receiver.url + "/hooks/T0001/B0001/abcdefghijkl")
    edit = f"/channels/{channel_id}/edit"
    masked = member.get(edit).get_data(as_text=True).split('name="config.slack.webhookUrl" value="')[1].split('"')[0]
    answer = member.post(
        edit,
        data={"csrf_token": csrf(member, edit), "name": "Pager", "type": "slack", "config.slack.webhookUrl": masked},
    )
    assert answer.status_code == 302
    member.post(f"/channels/{channel_id}/test", data={"csrf_token": csrf(member, f"/channels/{channel_id}")})
    (received,) = receiver.wait_for(1)
    assert received.path == "/hooks/T0001/B0001/abcdefghijkl"


def test_a_test_message_reaches_the_receiver_and_shows_in_the_log(member: FlaskClient, receiver) -> None:
    channel_id = create_slack(member, receiver.url + "/hooks/on-call")
    page = f"/channels/{channel_id}"
    answer = member.post(f"{page}/test", data={"csrf_token": csrf(member, page)}, follow_redirects=True)
    text = answer.get_data(as_text=True)
    assert "The test message was sent." in text
    assert receiver.wait_for(1)[0].path == "/hooks/on-call"
    assert "<td>test</td>" in text and "Sent" in text


def test_a_failed_test_message_says_why(member: FlaskClient, closed_port: int) -> None:
    channel_id = create_slack(member, f"http://127.0.0.1:{closed_port}/hooks/x")
    page = f"/channels/{channel_id}"
    text = member.post(f"{page}/test", data={"csrf_token": csrf(member, page)}, follow_redirects=True).get_data(
        as_text=True
    )
    assert "The test message failed:" in text and "Failed" in text


def test_the_apis_messages_show_beside_the_config_fields(member: FlaskClient) -> None:
    answer = member.post(
        "/channels/new",
        data={"csrf_token": csrf(member, "/channels/new"), "name": "x", "type": "slack", "config.slack.webhookUrl": ""},
    )
    text = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert 'id="c-slack-webhookUrl-error">Missing data for required field.' in text
    assert db.session.scalar(select(Channel)) is None


def test_a_viewer_reads_channels_but_cannot_change_them(client: FlaskClient, org: Organization, receiver) -> None:
    channel = Channel(org_id=org.id, name="ops", type="slack", config={"webhookUrl": receiver.url + "/x"})
    db.session.add(channel)
    db.session.commit()
    person(org, "viewer")
    people_sign_in(client)
    text = client.get(f"/channels/{channel.id}").get_data(as_text=True)
    assert "ops" in text and "Send a test message" not in text
    assert (
        client.post(f"/channels/{channel.id}/test", data={"csrf_token": csrf(client, "/channels")}).status_code == 403
    )
    assert client.get("/channels/new").status_code == 403


def test_channel_changes_made_in_the_pages_are_in_the_audit_trail(member: FlaskClient, receiver) -> None:
    from aloft.models import AuditEvent

    channel_id = create_slack(member, receiver.url + "/hooks/on-call")
    member.post(f"/channels/{channel_id}/delete", data={"csrf_token": csrf(member, f"/channels/{channel_id}")})
    events = db.session.execute(select(AuditEvent.action, AuditEvent.actor).order_by(AuditEvent.created_at)).all()
    assert [event for event in events if event.action.startswith("channel.")] == [
        ("channel.created", "ada@example.com"),
        ("channel.deleted", "ada@example.com"),
    ]
