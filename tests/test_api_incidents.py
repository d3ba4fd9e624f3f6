"""/api/v1/incidents: listed newest first with filters, in detail, acknowledged once, resolved by hand."""

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from api_support import bearer, create_monitor
from sqlalchemy import delete, select

from aloft.checks import CheckResult
from aloft.engine.state import record_many
from aloft.extensions import db
from aloft.models import CheckResult as ResultRow
from aloft.models import Delivery, Incident, Monitor
from aloft.testing import issue_key

SLOT = 1_800_000_000_000
MINUTE = 60_000
DOWN = CheckResult(False, 3.5, "HTTP 503", {"statusCode": 503})
UP = CheckResult(True, 12.0)


def feed(monitor_id, *results, start=SLOT):
    record_many(db.session, [(monitor_id, start + n * MINUTE, result) for n, result in enumerate(results)])
    db.session.commit()


@pytest.fixture
def down(client, auth_headers):
    """A monitor (confirmed after 2 failures) with one resolved incident and one open one."""
    monitor = create_monitor(client, auth_headers, name="Shop API", confirmationCount=2)
    feed(monitor["id"], DOWN, DOWN, UP, DOWN, DOWN)
    return monitor


def incidents(client, headers, query=""):
    response = client.get(f"/api/v1/incidents{query}", headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def test_incidents_are_listed_newest_first_and_filtered(client, auth_headers, down):
    other = create_monitor(client, auth_headers, name="Blog", confirmationCount=1)
    feed(other["id"], DOWN, start=SLOT + 10 * MINUTE)
    listed = incidents(client, auth_headers)["incidents"]
    assert [(i["monitorName"], i["status"]) for i in listed] == [
        ("Blog", "open"),
        ("Shop API", "open"),
        ("Shop API", "resolved"),
    ]
    assert set(listed[0]) == {
        "id",
        "monitorId",
        "monitorName",
        "status",
        "cause",
        "startedAt",
        "resolvedAt",
        "durationSeconds",
        "resolution",
        "resolvedBy",
        "acknowledgedAt",
        "acknowledgedBy",
    }
    assert [i["status"] for i in incidents(client, auth_headers, "?status=resolved")["incidents"]] == ["resolved"]
    assert len(incidents(client, auth_headers, f"?monitorId={down['id']}")["incidents"]) == 2
    since = quote(datetime(2027, 1, 15, 8, 5, tzinfo=UTC).isoformat())
    assert [i["monitorName"] for i in incidents(client, auth_headers, f"?since={since}")["incidents"]] == ["Blog"]
    first = incidents(client, auth_headers, "?limit=2")
    rest = incidents(client, auth_headers, f"?limit=2&cursor={first['nextCursor']}")
    assert [i["id"] for i in first["incidents"] + rest["incidents"]] == [i["id"] for i in listed]
    assert rest["nextCursor"] is None


def test_an_incident_in_detail_has_its_duration_and_the_check_that_opened_it(client, auth_headers, down):
    resolved = incidents(client, auth_headers, "?status=resolved")["incidents"][0]
    detail = client.get(f"/api/v1/incidents/{resolved['id']}", headers=auth_headers).json["incident"]
    assert (detail["startedAt"], detail["resolvedAt"]) == ("2027-01-15T08:01:00.000Z", "2027-01-15T08:02:00.000Z")
    assert (detail["durationSeconds"], detail["resolution"], detail["resolvedBy"]) == (60.0, "check", None)
    assert detail["openedBy"] == {
        "checkedAt": "2027-01-15T08:01:00.000Z",
        "latencyMs": 3.5,
        "cause": "HTTP 503",
        "details": {"statusCode": 503},
    }
    recent = create_monitor(client, auth_headers, name="Recent", confirmationCount=1)
    two_hours_ago = int((datetime.now(UTC) - timedelta(hours=2)).timestamp() * 1000)
    feed(recent["id"], DOWN, start=two_hours_ago)
    (ongoing,) = incidents(client, auth_headers, f"?monitorId={recent['id']}")["incidents"]
    assert 7200 <= ongoing["durationSeconds"] < 7300, "an open incident lasts until now"


def test_acknowledging_records_the_key_once_and_tells_the_channels(app, client, org, down, receiver):
    key, token = issue_key(app, org, "on-call phone")
    headers = bearer(token)
    channel = client.post(
        "/api/v1/channels",
        json={"name": "Slack", "type": "slack", "config": {"webhookUrl": receiver.url}},
        headers=headers,
    ).json["channel"]
    client.patch(f"/api/v1/monitors/{down['id']}", json={"channelIds": [channel["id"]]}, headers=headers)
    opened = incidents(client, headers, "?status=open")["incidents"][0]
    acknowledged = client.post(f"/api/v1/incidents/{opened['id']}/acknowledge", headers=headers)
    assert acknowledged.status_code == 200
    body = acknowledged.json["incident"]
    assert body["acknowledgedBy"] == {"id": key.id, "name": "on-call phone"} and body["acknowledgedAt"] is not None
    again = client.post(f"/api/v1/incidents/{opened['id']}/acknowledge", headers=headers).json["incident"]
    assert again["acknowledgedAt"] == body["acknowledgedAt"], "a second acknowledgement changes nothing"
    (delivery,) = db.session.scalars(select(Delivery)).all()
    assert (delivery.event, delivery.status, delivery.incident_id) == ("acknowledged", "pending", opened["id"])
    assert delivery.payload["acknowledgedBy"] == "on-call phone"
    assert delivery.next_attempt_at <= datetime.now(UTC), "due at once: the next sweep sends it"


def test_acknowledging_a_resolved_incident_is_a_conflict_that_changes_nothing(client, auth_headers, down):
    resolved = incidents(client, auth_headers, "?status=resolved")["incidents"][0]
    response = client.post(f"/api/v1/incidents/{resolved['id']}/acknowledge", headers=auth_headers)
    assert response.status_code == 409
    assert response.json == {"error": "Only an open incident can be acknowledged; this one is resolved"}
    after = client.get(f"/api/v1/incidents/{resolved['id']}", headers=auth_headers).json["incident"]
    assert after["acknowledgedAt"] is None and after["acknowledgedBy"] is None


def test_resolving_by_hand_leaves_the_monitor_down_until_a_new_failure_streak(app, client, org, down):
    key, token = issue_key(app, org, "ops")
    headers = bearer(token)
    opened = incidents(client, headers, "?status=open")["incidents"][0]
    resolved = client.post(f"/api/v1/incidents/{opened['id']}/resolve", headers=headers).json["incident"]
    assert (resolved["status"], resolved["resolution"], resolved["resolvedBy"]) == (
        "resolved",
        "manual",
        {"id": key.id, "name": "ops"},
    )
    again = client.post(f"/api/v1/incidents/{opened['id']}/resolve", headers=headers).json["incident"]
    assert again == resolved, "resolving a resolved incident changes nothing"
    assert db.session.get(Monitor, down["id"]).status == "down", "the monitor keeps its own state"

    feed(down["id"], DOWN, DOWN, start=SLOT + 10 * MINUTE)
    assert incidents(client, headers, "?status=open")["incidents"] == [], "the same outage goes on: no new incident"
    feed(down["id"], UP, DOWN, DOWN, start=SLOT + 20 * MINUTE)
    (new,) = incidents(client, headers, "?status=open")["incidents"]
    assert new["id"] != opened["id"] and new["startedAt"] == "2027-01-15T08:22:00.000Z"


def test_the_opening_check_goes_with_the_raw_results(client, auth_headers, down):
    db.session.execute(delete(ResultRow))
    db.session.commit()
    opened = incidents(client, auth_headers, "?status=open")["incidents"][0]
    assert client.get(f"/api/v1/incidents/{opened['id']}", headers=auth_headers).json["incident"]["openedBy"] is None


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ("?status=closed", ["status"]),
        ("?since=last+week", ["since"]),
        ("?cursor=zz", ["cursor"]),
        ("?limit=0", ["limit"]),
        ("?monitorId=my-monitor", ["monitorId"]),
    ],
)
def test_bad_incident_queries_are_400s(client, auth_headers, query, path):
    response = client.get(f"/api/v1/incidents{query}", headers=auth_headers)
    assert response.status_code == 400 and path in [issue["path"] for issue in response.json["issues"]]


def test_another_orgs_incidents_are_invisible(app, client, down, other_org):
    headers = bearer(issue_key(app, other_org, "theirs")[1])
    assert incidents(client, headers) == {"incidents": [], "nextCursor": None}
    incident_id = db.session.scalar(select(Incident.id).limit(1))
    for method, suffix in (("GET", ""), ("POST", "/acknowledge"), ("POST", "/resolve")):
        response = client.open(f"/api/v1/incidents/{incident_id}{suffix}", method=method, headers=headers)
        assert response.status_code == 404 and response.json == {"error": "Incident not found"}
    assert db.session.get(Incident, incident_id).acknowledged_at is None
