"""The scope matrix: scope × method × endpoint."""

import pytest
from api_support import SITE, SLACK, bearer, create_monitor
from sqlalchemy import select

from aloft.checks import CheckResult
from aloft.engine.state import record_many
from aloft.extensions import db
from aloft.keys import SCOPES
from aloft.models import Incident, Membership, User
from aloft.people import invites
from aloft.testing import issue_key

# (method, path template, scope it needs, body, status with that scope)
ENDPOINTS = [
    ("GET", "/api/v1/monitors", "monitors:read", None, 200),
    ("POST", "/api/v1/monitors", "monitors:write", SITE, 201),
    ("GET", "/api/v1/monitors/{monitor}", "monitors:read", None, 200),
    ("PATCH", "/api/v1/monitors/{monitor}", "monitors:write", {"name": "x"}, 200),
    ("PUT", "/api/v1/monitors/{monitor}", "monitors:write", SITE, 200),
    ("DELETE", "/api/v1/monitors/{monitor}", "monitors:write", None, 200),
    ("GET", "/api/v1/status", "monitors:read", None, 200),
    ("GET", "/api/v1/keys", "api-keys:read", None, 200),
    ("POST", "/api/v1/keys", "api-keys:write", {"name": "x", "scopes": []}, 201),
    ("DELETE", "/api/v1/keys/{key}", "api-keys:write", None, 200),
    ("GET", "/api/v1/monitors/{monitor}/results", "monitors:read", None, 200),
    ("GET", "/api/v1/monitors/{monitor}/uptime", "monitors:read", None, 200),
    ("GET", "/api/v1/incidents", "monitors:read", None, 200),
    ("GET", "/api/v1/incidents/{incident}", "monitors:read", None, 200),
    ("POST", "/api/v1/incidents/{incident}/acknowledge", "monitors:write", None, 200),
    ("POST", "/api/v1/incidents/{incident}/resolve", "monitors:write", None, 200),
    ("GET", "/api/v1/channels", "alerts:read", None, 200),
    ("POST", "/api/v1/channels", "alerts:write", SLACK, 201),
    ("GET", "/api/v1/channels/{channel}", "alerts:read", None, 200),
    ("PATCH", "/api/v1/channels/{channel}", "alerts:write", {"name": "x"}, 200),
    ("PUT", "/api/v1/channels/{channel}", "alerts:write", SLACK, 200),
    ("DELETE", "/api/v1/channels/{channel}", "alerts:write", None, 200),
    ("POST", "/api/v1/channels/{channel}/test", "alerts:write", None, 200),
    ("GET", "/api/v1/channels/{channel}/deliveries", "alerts:read", None, 200),
    ("GET", "/api/v1/members", "team:read", None, 200),
    ("PATCH", "/api/v1/members/{member}", "team:write", {"role": "viewer"}, 200),
    ("DELETE", "/api/v1/members/{member}", "team:write", None, 200),
    ("GET", "/api/v1/invites", "team:read", None, 200),
    ("POST", "/api/v1/invites", "team:write", {"email": "new@example.com"}, 201),
    ("DELETE", "/api/v1/invites/{invite}", "team:write", None, 200),
    ("GET", "/api/v1/organization", "team:read", None, 200),
    ("PATCH", "/api/v1/organization", "team:write", {"name": "Acme Inc"}, 200),
    ("GET", "/api/v1/audit-log", "team:read", None, 200),
    # Any valid key, whatever its scopes.
    ("GET", "/api/v1/check-types", None, None, 200),
    ("GET", "/api/v1/channel-types", None, None, 200),
]


def open_incident(monitor_id):
    """An open incident of the monitor, opened as the engine opens one."""
    record_many(
        db.session, [(monitor_id, 1_800_000_000_000 + n * 60_000, CheckResult(False, None, "x")) for n in range(2)]
    )
    db.session.commit()
    return db.session.scalar(select(Incident.id).where(Incident.monitor_id == monitor_id))


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize(("method", "template", "needed", "body", "status"), ENDPOINTS)
def test_a_key_reaches_an_endpoint_only_with_its_scope(
    app, client, org, auth_headers, scope, method, template, needed, body, status
):
    monitor = create_monitor(client, auth_headers)
    channel = client.post("/api/v1/channels", json=SLACK, headers=auth_headers).json["channel"]
    target_key, _ = issue_key(app, org, "target", scopes=[])  # revocable by any admin's key
    _, token = issue_key(app, org, f"only {scope}", scopes=[scope])
    incident = open_incident(monitor["id"])
    member = Membership(org_id=org.id, user=User(email="member@example.com"), role="member")
    invite, _url, _emailed = invites.invite(org, "invited@example.com", "member", None)
    db.session.add(member)
    db.session.commit()
    path = template.format(
        monitor=monitor["id"],
        key=target_key.id,
        channel=channel["id"],
        incident=incident,
        member=member.id,
        invite=invite.id,
    )
    response = client.open(path, method=method, json=body, headers=bearer(token))
    if scope == needed or needed is None:
        assert response.status_code == status, response.json
    else:
        assert response.status_code == 403
        assert response.json == {"error": f"Missing required scope: {needed}"}


def test_the_matrix_covers_every_authenticated_route(app):
    covered = {
        (
            method,
            template.format(
                monitor="<id:monitor_id>",
                key="<id:key_id>",
                channel="<id:channel_id>",
                incident="<id:incident_id>",
                member="<id:member_id>",
                invite="<id:invite_id>",
            ),
        )
        for method, template, *_ in ENDPOINTS
    }
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if app.blueprints.get(rule.endpoint.split(".")[0]) is not None
        and getattr(app.blueprints[rule.endpoint.split(".")[0]], "needs_key", False)
        # The profile is the caller's own (scope family ""): tests/test_people_roles.py walks it.
        and app.blueprints[rule.endpoint.split(".")[0]].scope_family != ""
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes - covered == set()
