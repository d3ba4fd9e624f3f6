"""The audit trail: security-relevant events with who, what, when and where; admins read it, newest first."""

from datetime import timedelta

import pytest
from api_support import SLACK, bearer, create_monitor
from people_support import person
from sqlalchemy import func, select

from aloft.extensions import db
from aloft.models import AuditEvent, utcnow
from aloft.people.audit import prune_events
from aloft.testing import issue_key


@pytest.fixture
def admin_key(app, org):
    return issue_key(app, org, "admin key", user=person(org, "admin", "root@example.com"))


def events(client, headers, query=""):
    response = client.get(f"/api/v1/audit-log{query}", headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def test_keys_channels_and_monitors_are_recorded_with_who_and_where_and_no_secret(client, admin_key):
    key, token = admin_key
    headers = bearer(token)
    minted = client.post("/api/v1/keys", json={"name": "ci"}, headers=headers).json["key"]
    client.delete(f"/api/v1/keys/{minted['id']}", headers=headers)
    channel = client.post("/api/v1/channels", json=SLACK, headers=headers).json["channel"]
    client.patch(f"/api/v1/channels/{channel['id']}", json={"name": "pager"}, headers=headers)
    client.delete(f"/api/v1/channels/{channel['id']}", headers=headers)
    monitor = create_monitor(client, headers)
    client.delete(f"/api/v1/monitors/{monitor['id']}", headers=headers)

    log = events(client, headers)
    assert [event["action"] for event in log["events"]] == [
        "monitor.deleted",
        "channel.deleted",
        "channel.changed",
        "channel.created",
        "key.revoked",
        "key.created",
    ]
    assert {event["actor"] for event in log["events"]} == {f"key {key.prefix}"}
    assert {event["ip"] for event in log["events"]} == {"127.0.0.1"}
    assert log["events"][0]["details"] == {"monitorId": monitor["id"], "name": monitor["name"]}
    assert set(log["events"][0]) == {"id", "at", "actor", "actorUserId", "action", "ip", "details"}
    text = str(log)
    assert SLACK["config"]["webhookUrl"] not in text and minted["token"] not in text


def test_only_admins_read_the_audit_log(app, client, org, admin_key):
    member_token = issue_key(app, org, "m", user=person(org, "member", "m@example.com"))[1]
    refused = client.get("/api/v1/audit-log", headers=bearer(member_token))
    assert refused.status_code == 403
    assert refused.json == {"error": "Your role (member) may not read audit log; ask an admin"}


def test_the_log_pages_newest_first_and_filters_by_actor_and_action(client, org, admin_key):
    _key, token = admin_key
    headers = bearer(token)
    for n in range(5):
        client.post("/api/v1/keys", json={"name": f"k{n}"}, headers=headers)
    first = events(client, headers, "?limit=2")
    second = events(client, headers, f"?limit=2&cursor={first['nextCursor']}")
    third = events(client, headers, f"?limit=2&cursor={second['nextCursor']}")
    names = [e["details"]["name"] for page in (first, second, third) for e in page["events"]]
    assert names == ["k4", "k3", "k2", "k1", "k0"] and third["nextCursor"] is None
    db.session.add(AuditEvent(org_id=org.id, actor="someone@example.com", action="user.signed_in", created_at=utcnow()))
    db.session.commit()
    assert [e["actor"] for e in events(client, headers, "?actor=someone@example.com")["events"]] == [
        "someone@example.com"
    ]
    assert len(events(client, headers, "?action=key.created")["events"]) == 5
    bad = client.get("/api/v1/audit-log?action=everything", headers=headers)
    assert bad.status_code == 400 and bad.json["issues"][0]["path"] == ["action"]


def test_each_organization_sees_only_its_own_events(app, client, org, other_org, admin_key):
    other_token = issue_key(app, other_org, "theirs", user=person(other_org, "admin", "them@example.com"))[1]
    client.post("/api/v1/keys", json={"name": "their secret project"}, headers=bearer(other_token))
    assert "their secret project" not in str(events(client, bearer(admin_key[1])))


def test_events_past_the_retention_are_pruned(app, org):
    now = utcnow()
    for age in (399, 401):
        db.session.add(
            AuditEvent(org_id=org.id, actor="x", action="user.signed_in", created_at=now - timedelta(days=age))
        )
    db.session.commit()
    assert prune_events(db.session, app.extensions["aloft.settings"].keep_audit_days, now) == 1
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 1


def test_the_prune_also_deletes_ended_sessions_and_old_links(app, org):
    from aloft.models import OneTimeLink, WebSession
    from aloft.stats.pruning import prune

    ada = person(org)
    now = utcnow()
    db.session.add_all(
        [
            WebSession(user=ada, token_hash="a" * 64, created_at=now, last_seen_at=now),
            WebSession(user=ada, token_hash="b" * 64, created_at=now, last_seen_at=now - timedelta(hours=13)),
            WebSession(user=ada, token_hash="c" * 64, created_at=now - timedelta(days=31), last_seen_at=now),
            OneTimeLink(purpose="reset", user=ada, token_hash="d" * 64, expires_at=now + timedelta(hours=1)),
            OneTimeLink(purpose="reset", user=ada, token_hash="e" * 64, expires_at=now - timedelta(days=8)),
        ]
    )
    db.session.commit()
    pruned = prune(db.session, app.extensions["aloft.settings"], now)
    assert pruned.expired_access == 3
    assert db.session.scalars(select(WebSession.token_hash)).all() == ["a" * 64]
    assert db.session.scalars(select(OneTimeLink.token_hash)).all() == ["d" * 64]
