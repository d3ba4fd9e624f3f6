"""Runs: exit statuses, starts with their durations, runs that never finish, and run ids that pair overlapping runs."""

from datetime import timedelta

from heartbeat_support import create_heartbeat, ping_path, sweep, travel
from sqlalchemy import select

from aloft.extensions import db
from aloft.models import Incident, Monitor, Ping


def pings_of(monitor):
    db.session.rollback()
    return db.session.scalars(select(Ping).where(Ping.monitor_id == monitor["id"]).order_by(Ping.id)).all()


def open_incident(monitor):
    db.session.rollback()
    return db.session.scalar(select(Incident).where(Incident.monitor_id == monitor["id"], Incident.status == "open"))


def test_exit_status_zero_is_a_success(client, heartbeat):
    assert client.post(f"{ping_path(heartbeat)}/0").status_code == 200
    (ping,) = pings_of(heartbeat)
    assert (ping.kind, ping.exit_status) == ("success", 0)
    assert db.session.get(Monitor, heartbeat["id"]).status == "up"


def test_a_non_zero_exit_status_is_a_failure_report_naming_the_status(client, heartbeat):
    assert client.get(f"{ping_path(heartbeat)}/3").status_code == 200
    (ping,) = pings_of(heartbeat)
    assert (ping.kind, ping.exit_status) == ("fail", 3)
    incident = open_incident(heartbeat)
    assert (incident.cause, incident.opened_by_ping_id) == ("Job exited with status 3", ping.id)


def test_an_exit_status_above_255_is_a_400_in_json(client, heartbeat):
    response = client.get(f"{ping_path(heartbeat)}/256")
    assert response.status_code == 400
    assert response.json == {"error": "An exit status is 0-255: /heartbeat/<token>/<status>."}
    assert pings_of(heartbeat) == []


def test_a_finish_after_a_start_records_the_run_time(client, heartbeat):
    client.get(f"{ping_path(heartbeat)}/start")
    travel(heartbeat["id"], minutes=3)
    client.get(ping_path(heartbeat))
    start, finish = pings_of(heartbeat)
    assert start.duration_ms is None
    assert 180_000 <= finish.duration_ms < 190_000


def test_a_finish_without_a_start_has_no_run_time(client, heartbeat):
    client.get(ping_path(heartbeat))
    client.get(ping_path(heartbeat))
    assert [ping.duration_ms for ping in pings_of(heartbeat)] == [None, None]


def test_a_run_id_pairs_a_finish_with_its_own_start_when_runs_overlap(client, heartbeat):
    path = ping_path(heartbeat)
    client.get(f"{path}/start?rid=first")
    client.get(f"{path}/start?rid=second")
    first = db.session.scalar(select(Ping).where(Ping.rid == "first"))
    first.received_at -= timedelta(hours=1)
    db.session.commit()
    client.get(f"{path}?rid=first")
    client.get(f"{path}?rid=second")
    durations = {ping.rid: ping.duration_ms for ping in pings_of(heartbeat) if ping.kind == "success"}
    assert 3_600_000 <= durations["first"] < 3_610_000
    assert durations["second"] < 10_000


def test_a_run_id_longer_than_64_characters_is_a_400(client, heartbeat):
    response = client.get(f"{ping_path(heartbeat)}?rid={'r' * 65}")
    assert response.status_code == 400
    assert response.json == {"error": "rid: at most 64 characters."}


def test_a_started_run_that_does_not_finish_within_the_grace_is_down(client, auth_headers):
    monitor = create_heartbeat(client, auth_headers, intervalSeconds=86400, settings={"graceSeconds": 600})
    client.get(ping_path(monitor))
    client.get(f"{ping_path(monitor)}/start")
    travel(monitor["id"], minutes=12)
    started = db.session.get(Monitor, monitor["id"]).last_started_at
    db.session.commit()
    # Swept at 12 minutes after the start, however long the requests above took on a busy machine.
    assert len(sweep(started + timedelta(minutes=12)).opened) == 1
    assert open_incident(monitor).cause == "Started 12m 0s ago and never finished"
    client.get(ping_path(monitor))
    assert open_incident(monitor) is None, "the run finished at last"


def test_a_start_within_the_grace_leaves_the_monitor_up(client, auth_headers):
    monitor = create_heartbeat(client, auth_headers, intervalSeconds=86400, settings={"graceSeconds": 600})
    client.get(ping_path(monitor))
    client.get(f"{ping_path(monitor)}/start")
    travel(monitor["id"], minutes=5)
    assert sweep().recorded == 0
    client.get(ping_path(monitor))
    db.session.rollback()
    row = db.session.get(Monitor, monitor["id"])
    assert row.status == "up"
    assert abs(row.next_deadline_at - row.last_ping_at - timedelta(seconds=86400 + 600)) < timedelta(milliseconds=1)
