"""Tenant isolation, generated from the URL map: another org's ids answer 404 everywhere."""

import re

import pytest
from api_support import SITE, SLACK, add_channel, bearer, create_monitor
from sqlalchemy import select

from aloft.checks import CheckResult
from aloft.engine.state import record_many
from aloft.extensions import db
from aloft.models import Incident
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
    return {"monitor_id": monitor["id"], "key_id": key.id, "channel_id": channel.id, "incident_id": incident_id}


def id_routes(app):
    """Routes of authenticated resources whose URL names an object."""
    for rule in app.url_map.iter_rules():
        blueprint = app.blueprints.get(rule.endpoint.split(".")[0])
        if rule.arguments and getattr(blueprint, "scope_family", None) is not None:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


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


def test_lists_show_only_the_callers_org(client, auth_headers, foreign_ids):
    assert client.get("/api/v1/monitors", headers=auth_headers).json == {"monitors": []}
    assert client.get("/api/v1/status", headers=auth_headers).json["counts"]["total"] == 0
    assert [key["name"] for key in client.get("/api/v1/keys", headers=auth_headers).json["keys"]] == ["test key"]
