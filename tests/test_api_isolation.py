"""Tenant isolation, generated from the URL map: another org's ids answer 404, and no list shows its objects."""

import re

import pytest
from api_support import SITE, SLACK, add_channel, bearer, create_monitor
from sqlalchemy import select

from aloft.checks import CheckResult
from aloft.engine.scheduler import now_ms
from aloft.engine.state import record_many
from aloft.extensions import db
from aloft.models import ApiKey, Delivery, Incident, Membership, User
from aloft.people import invites
from aloft.testing import issue_key

SLOT = 1_800_000_000_000
#: ``<monitor_id>`` or ``<id:monitor_id>`` in a URL rule.
ARGUMENT = re.compile(r"<(?:\w+:)?(\w+)>")

#: Valid bodies, by resource: a foreign id must be a 404 even when the request is otherwise fine.
BODIES = {
    "monitors": {"PUT": SITE, "PATCH": {"name": "renamed"}},
    "channels": {"PUT": SLACK, "PATCH": {"name": "renamed"}},
    "incidents": {},
    "keys": {},
    "members": {"PATCH": {"role": "viewer"}},
    "invites": {},
}


@pytest.fixture
def foreign_ids(app, client, other_org):
    """One object of each kind, owned by the other organization."""
    _, other_token = issue_key(app, other_org, "other org")
    monitor = create_monitor(client, bearer(other_token))
    key, _ = issue_key(app, other_org, "other org's second key")
    channel = add_channel(other_org)
    record_many(db.session, [(monitor["id"], SLOT + n * 60_000, CheckResult(False, None, "x")) for n in range(2)])
    db.session.commit()
    incident_id = db.session.scalar(select(Incident.id).where(Incident.monitor_id == monitor["id"]))
    member = Membership(org_id=other_org.id, user=User(email="other@example.com"), role="admin")
    db.session.add(member)
    db.session.commit()
    invite, _url, _emailed = invites.invite(other_org, "invited@example.com", "member", None)
    return {
        "monitor_id": monitor["id"],
        "key_id": key.id,
        "channel_id": channel.id,
        "incident_id": incident_id,
        "member_id": member.id,
        "invite_id": invite.id,
    }


def authenticated_routes(app):
    """(rule, method) of every route that needs an API key."""
    for rule in app.url_map.iter_rules():
        blueprint = app.blueprints.get(rule.endpoint.split(".")[0])
        if getattr(blueprint, "needs_key", False):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


def id_routes(app):
    """Routes of authenticated resources whose URL names an object."""
    return [(rule, method) for rule, method in authenticated_routes(app) if rule.arguments]


def test_every_route_with_an_id_answers_404_for_another_orgs_object(app, client, auth_headers, foreign_ids):
    checked = []
    for rule, method in id_routes(app):
        if not set(rule.arguments) <= set(foreign_ids):
            continue
        path = ARGUMENT.sub(lambda argument: foreign_ids[argument[1]], rule.rule)
        body = BODIES[rule.rule.split("/")[3]].get(method)
        response = client.open(path, method=method, json=body, headers=auth_headers)
        assert response.status_code == 404, (method, rule.rule, response.json)
        text = response.get_data(as_text=True)
        assert list(response.json) == ["error"]
        assert "other org" not in text and "Globex" not in text
        checked.append((method, ARGUMENT.sub(r"<\1>", rule.rule)))
    assert ("GET", "/api/v1/monitors/<monitor_id>") in checked
    assert ("DELETE", "/api/v1/keys/<key_id>") in checked
    assert ("POST", "/api/v1/channels/<channel_id>/test") in checked
    assert ("POST", "/api/v1/incidents/<incident_id>/acknowledge") in checked
    db.session.expire_all()
    assert client.get(f"/api/v1/monitors/{foreign_ids['monitor_id']}", headers=auth_headers).status_code == 404


def test_every_id_route_is_covered_by_the_isolation_test(app, foreign_ids):
    uncovered = {rule.rule for rule, _ in id_routes(app) if not set(rule.arguments) <= set(foreign_ids)}
    assert uncovered == set(), "add the new kind of id to foreign_ids"


def list_routes(app):
    """GET routes of authenticated resources that answer a list (their URL does not end in an id)."""
    return [rule for rule, method in authenticated_routes(app) if method == "GET" and not rule.rule.endswith(">")]


def holdings(app, client, organization):
    """One object of every kind a list shows, for ``organization``: key, channel, monitor, results,
    an incident that opened and resolved, and a delivery (the channel's test message). Returns the
    caller's headers, the ids to put in list URLs, and every id and name that must stay inside the
    organization."""
    admin = User(email=f"admin@{organization.slug}.example.com", name=f"{organization.slug} admin")
    membership = Membership(org_id=organization.id, user=admin, role="admin")
    db.session.add(membership)
    db.session.commit()
    invite, _url, _emailed = invites.invite(organization, f"new@{organization.slug}.example.com", "viewer", admin)
    _, token = issue_key(app, organization, f"{organization.slug} key", user=admin)
    headers = bearer(token)
    channel = client.post(
        "/api/v1/channels", json={**SLACK, "name": f"{organization.slug} channel"}, headers=headers
    ).json["channel"]
    assert client.post(f"/api/v1/channels/{channel['id']}/test", headers=headers).status_code == 200
    monitor = create_monitor(client, headers, name=f"{organization.slug} monitor", channelIds=[channel["id"]])
    # Within the last hour, so that uptime counts them; resolved, so that no duration grows meanwhile.
    start = now_ms() - 3_600_000
    outcomes = [CheckResult(False, None, "x"), CheckResult(False, None, "x"), CheckResult(True, 5.0)]
    record_many(db.session, [(monitor["id"], start + n * 60_000, result) for n, result in enumerate(outcomes)])
    db.session.commit()
    ids = [
        monitor["id"],
        channel["id"],
        *db.session.scalars(select(Incident.id).where(Incident.monitor_id == monitor["id"])),
        *db.session.scalars(select(Delivery.id).where(Delivery.channel_id == channel["id"])),
        *db.session.scalars(select(ApiKey.id).where(ApiKey.org_id == organization.id)),
        membership.id,
        invite.id,
        admin.email,
    ]
    assert len(ids) == 8, "every kind of object, or the test proves nothing"
    return headers, {"monitor_id": monitor["id"], "channel_id": channel["id"]}, [*ids, organization.slug]


def answers(app, client, headers, url_ids):
    """What every list route answers this caller, by route."""
    answered = {}
    for rule in list_routes(app):
        assert set(rule.arguments) <= set(url_ids), f"{rule.rule}: add its kind of id to holdings()"
        path = ARGUMENT.sub(lambda argument: url_ids[argument[1]], rule.rule)
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (rule.rule, response.json)
        answered[ARGUMENT.sub(r"<\1>", rule.rule)] = response.get_data(as_text=True)
    return answered


def test_every_list_answers_the_same_whatever_another_org_holds(app, client, org, other_org):
    headers, url_ids, own = holdings(app, client, org)
    before = answers(app, client, headers, url_ids)
    assert set(before) >= {
        "/api/v1/monitors",
        "/api/v1/monitors/<monitor_id>/results",
        "/api/v1/monitors/<monitor_id>/uptime",
        "/api/v1/incidents",
        "/api/v1/channels",
        "/api/v1/channels/<channel_id>/deliveries",
        "/api/v1/status",
        "/api/v1/keys",
        "/api/v1/members",
        "/api/v1/invites",
        "/api/v1/organization",
        "/api/v1/profile",
        "/api/v1/audit-log",
    }

    other_headers, other_url_ids, _ = holdings(app, client, other_org)
    # /status afresh, not from the cache of the first org's body (the cache has tests of its own).
    app.extensions.pop("aloft.status_cache", None)
    after = answers(app, client, headers, url_ids)
    for route, text in before.items():
        assert after[route] == text, route

    for route, text in answers(app, client, other_headers, other_url_ids).items():
        assert [marker for marker in own if marker in text] == [], route
