"""GET /api/v1/status is cached per organization and never stale: triggers bump its version."""

from datetime import UTC, datetime

import pytest
from api_support import bearer, create_monitor
from sqlalchemy import select, text, update

from aloft.checks import CheckResult
from aloft.engine.state import record
from aloft.extensions import db
from aloft.models import Incident, Organization
from aloft.testing import issue_key

SLOT = 1_800_000_000_000


def status(client, headers):
    return client.get("/api/v1/status", headers=headers).json


def version(org):
    return db.session.scalar(select(Organization.state_version).where(Organization.id == org.id))


def test_every_writer_of_what_status_shows_invalidates_it(client, auth_headers, org):
    assert status(client, auth_headers)["counts"]["total"] == 0
    created = create_monitor(client, auth_headers, confirmationCount=1)
    assert status(client, auth_headers)["counts"] == {"total": 1, "up": 0, "down": 0, "paused": 0, "pending": 1}

    record(db.session, created["id"], SLOT, CheckResult(ok=False, cause="HTTP 503"))
    db.session.commit()
    body = status(client, auth_headers)
    assert body["counts"]["down"] == 1
    assert [(i["monitorName"], i["cause"]) for i in body["openIncidents"]] == [("My site", "HTTP 503")]

    client.patch(f"/api/v1/monitors/{created['id']}", json={"name": "Renamed"}, headers=auth_headers)
    assert status(client, auth_headers)["openIncidents"][0]["monitorName"] == "Renamed"

    record(db.session, created["id"], SLOT + 60_000, CheckResult(ok=True))
    db.session.commit()
    body = status(client, auth_headers)
    assert body["counts"]["up"] == 1 and body["openIncidents"] == []

    db.session.execute(text("UPDATE monitors SET status = 'paused' WHERE id = :id"), {"id": created["id"]})
    db.session.commit()
    assert status(client, auth_headers)["counts"]["paused"] == 1, "even an operator's SQL is seen"

    client.delete(f"/api/v1/monitors/{created['id']}", headers=auth_headers)
    assert status(client, auth_headers)["counts"]["total"] == 0


def test_a_check_that_changes_nothing_visible_keeps_the_cache(client, auth_headers, org):
    created = create_monitor(client, auth_headers)
    record(db.session, created["id"], SLOT, CheckResult(ok=True, latency_ms=5))
    db.session.commit()
    before = version(org)
    record(db.session, created["id"], SLOT + 60_000, CheckResult(ok=True, latency_ms=7))
    db.session.commit()
    assert version(org) == before


def test_one_orgs_changes_leave_another_orgs_version_alone(app, client, auth_headers, org, other_org):
    other_headers = bearer(issue_key(app, other_org)[1])
    for headers in (auth_headers, other_headers):
        created = create_monitor(client, headers, confirmationCount=1)
        record(db.session, created["id"], SLOT, CheckResult(ok=False, cause="HTTP 503"))
    db.session.commit()
    before, other_before = version(org), version(other_org)
    changed = db.session.execute(update(Incident).where(Incident.org_id == org.id).values(cause="x"))
    db.session.commit()
    assert changed.rowcount == 1
    assert version(org) > before
    assert version(other_org) == other_before


@pytest.mark.parametrize("first", ["acme", "globex"])
def test_two_orgs_at_the_same_state_version_each_get_their_own_status(app, client, org, other_org, first):
    headers = {organization.slug: bearer(issue_key(app, organization)[1]) for organization in (org, other_org)}
    create_monitor(client, headers["acme"], name="Acme site")
    create_monitor(client, headers["globex"], name="Globex site")
    create_monitor(client, headers["globex"], name="Globex shop", paused=True)
    db.session.execute(update(Organization).values(state_version=7))
    db.session.commit()
    assert version(org) == version(other_org) == 7

    order = [first, *({"acme", "globex"} - {first})]
    bodies = {slug: status(client, headers[slug]) for slug in order}
    assert bodies["acme"]["counts"] == {"total": 1, "up": 0, "down": 0, "paused": 0, "pending": 1}
    assert bodies["globex"]["counts"] == {"total": 2, "up": 0, "down": 0, "paused": 1, "pending": 1}


def test_the_cached_body_is_the_computed_one(client, auth_headers, org):
    created = create_monitor(client, auth_headers)
    db.session.add(
        Incident(org_id=org.id, monitor_id=created["id"], cause="Connection refused", started_at=datetime.now(UTC))
    )
    db.session.commit()
    first = client.get("/api/v1/status", headers=auth_headers)
    second = client.get("/api/v1/status", headers=auth_headers)
    assert first.get_data() == second.get_data()
    assert second.headers["Content-Type"] == "application/json"
