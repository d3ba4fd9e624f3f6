"""A heartbeat monitor judged at deadlines: pings act at once, silence is judged when its deadline passes."""

from datetime import timedelta

from heartbeat_support import create_heartbeat, ping_path, sweep, travel
from sqlalchemy import select

from aloft.extensions import db
from aloft.models import CheckResult, Incident, Monitor, Ping


def status(client, headers):
    return client.get("/api/v1/status", headers=headers).json


def monitor_of(client, headers, monitor):
    return client.get(f"/api/v1/monitors/{monitor['id']}", headers=headers).json


def test_a_monitor_never_pinged_is_pending_and_its_first_ping_makes_it_up_at_once(client, auth_headers):
    monitor = create_heartbeat(client, auth_headers)
    assert monitor["status"] == "pending"
    assert sweep().recorded == 0, "nothing is due before the first deadline"
    assert monitor_of(client, auth_headers, monitor)["monitor"]["status"] == "pending"
    assert client.get(ping_path(monitor)).status_code == 200
    assert monitor_of(client, auth_headers, monitor)["monitor"]["status"] == "up"


def test_a_monitor_never_pinged_goes_down_when_its_first_deadline_passes(client, auth_headers):
    monitor = create_heartbeat(client, auth_headers, intervalSeconds=3600, settings={"graceSeconds": 300})
    travel(monitor["id"], hours=2)
    report = sweep()
    assert len(report.opened) == 1
    (incident,) = status(client, auth_headers)["openIncidents"]
    assert (incident["monitorId"], incident["cause"]) == (monitor["id"], "No ping for 2h 0m")


def test_a_silent_heartbeat_opens_an_incident_and_the_next_ping_resolves_it_at_once(client, auth_headers):
    monitor = create_heartbeat(client, auth_headers, intervalSeconds=3600, settings={"graceSeconds": 300})
    assert client.get(ping_path(monitor)).status_code == 200
    assert status(client, auth_headers)["counts"]["up"] == 1

    travel(monitor["id"], hours=2)
    assert len(sweep().opened) == 1
    (incident,) = status(client, auth_headers)["openIncidents"]
    assert (incident["monitorId"], incident["cause"]) == (monitor["id"], "No ping for 2h 0m")

    assert client.post(ping_path(monitor), data="backup done").status_code == 200
    detail = monitor_of(client, auth_headers, monitor)
    assert detail["monitor"]["status"] == "up"
    assert [(i["status"], i["cause"]) for i in detail["recentIncidents"]] == [("resolved", "No ping for 2h 0m")]


def test_a_fail_ping_opens_an_incident_at_once_that_names_its_ping(client, auth_headers):
    monitor = create_heartbeat(client, auth_headers)
    assert client.post(f"{ping_path(monitor)}/fail", data="disk full").status_code == 200
    (incident,) = status(client, auth_headers)["openIncidents"]
    assert incident["cause"] == "Job reported failure"
    ping = db.session.scalar(select(Ping).where(Ping.monitor_id == monitor["id"]))
    row = db.session.get(Incident, incident["incidentId"])
    assert row.opened_by_ping_id == ping.id
    result = db.session.get(CheckResult, row.opened_by_result_id)
    assert (result.ok, result.details["pingId"]) == (False, ping.id)
    detail = client.get(f"/api/v1/incidents/{row.id}", headers=auth_headers).json["incident"]
    assert detail["openedBy"]["details"]["pingId"] == ping.id
    logged = client.get(f"/api/v1/monitors/{monitor['id']}/pings", headers=auth_headers).json["pings"]
    assert [(p["id"], p["body"]) for p in logged] == [(ping.id, "disk full")]

    client.get(f"{ping_path(monitor)}/start")
    assert status(client, auth_headers)["counts"]["down"] == 1, "a start is no success"
    client.get(ping_path(monitor))
    assert status(client, auth_headers)["openIncidents"] == []


def test_a_missed_deadline_is_recorded_once_however_often_it_is_swept(client, auth_headers):
    monitor = create_heartbeat(client, auth_headers)
    client.get(ping_path(monitor))
    travel(monitor["id"], minutes=7)
    assert len(sweep().opened) == 1
    assert sweep().recorded == 0, "the monitor awaits its next deadline now"
    row = db.session.get(Monitor, monitor["id"])
    db.session.refresh(row)
    assert row.next_deadline_at > row.last_ping_at + timedelta(minutes=7)


def test_confirmation_count_counts_consecutive_missed_deadlines(client, auth_headers):
    monitor = create_heartbeat(client, auth_headers, confirmationCount=2)
    client.get(ping_path(monitor))
    travel(monitor["id"], minutes=7)
    assert sweep().recorded == 1
    assert monitor_of(client, auth_headers, monitor)["monitor"]["status"] == "up", "one miss of two"
    travel(monitor["id"], minutes=7)
    assert len(sweep().opened) == 1
    assert monitor_of(client, auth_headers, monitor)["monitor"]["status"] == "down"


def test_a_ping_between_two_misses_starts_the_count_again(client, auth_headers):
    monitor = create_heartbeat(client, auth_headers, confirmationCount=2)
    client.get(ping_path(monitor))
    travel(monitor["id"], minutes=7)
    assert sweep().recorded == 1
    client.get(ping_path(monitor))
    travel(monitor["id"], minutes=7)
    assert sweep().opened == []
    assert db.session.get(Monitor, monitor["id"]).consecutive_failures == 1


def test_a_paused_heartbeat_awaits_no_deadline_and_unpausing_counts_from_then(client, auth_headers):
    monitor = create_heartbeat(client, auth_headers)
    path = f"/api/v1/monitors/{monitor['id']}"
    client.patch(path, json={"paused": True}, headers=auth_headers)
    assert db.session.get(Monitor, monitor["id"]).next_deadline_at is None
    assert client.get(ping_path(monitor)).status_code == 200, "pings are still recorded"
    db.session.expire_all()
    assert db.session.get(Monitor, monitor["id"]).next_deadline_at is None
    assert client.patch(path, json={"paused": False}, headers=auth_headers).json["monitor"]["status"] == "pending"
    db.session.expire_all()
    row = db.session.get(Monitor, monitor["id"])
    assert abs(row.next_deadline_at - row.ping_token_issued_at - timedelta(seconds=360)) < timedelta(milliseconds=1)
