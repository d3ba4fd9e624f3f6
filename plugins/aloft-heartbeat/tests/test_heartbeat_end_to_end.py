"""A heartbeat monitor through the engine: silence opens an incident, the next ping resolves it."""

from datetime import timedelta

from heartbeat_support import create_heartbeat, ping_path
from sqlalchemy import select

from aloft.engine.jobs import run_batch
from aloft.extensions import db
from aloft.models import Monitor, Ping


def slots(start=1_800_000_000_000):
    slot = start
    while True:
        yield slot
        slot += 60_000


def fall_silent(monitor_id, hours):
    """Move the monitor's pings into the past, as if the job had not run for ``hours``."""
    monitor = db.session.get(Monitor, monitor_id)
    monitor.last_ping_at -= timedelta(hours=hours)
    for ping in db.session.scalars(select(Ping).where(Ping.monitor_id == monitor_id)):
        ping.received_at -= timedelta(hours=hours)
    db.session.commit()


def status(client, headers):
    return client.get("/api/v1/status", headers=headers).json


def test_a_silent_heartbeat_opens_an_incident_and_the_next_ping_resolves_it(client, auth_headers):
    monitor = create_heartbeat(client, auth_headers, intervalSeconds=3600, settings={"graceSeconds": 300})
    slot = slots()
    run = lambda: run_batch([(monitor["id"], next(slot))])  # noqa: E731

    assert client.get(ping_path(monitor)).status_code == 200
    assert run().recorded == 1
    assert status(client, auth_headers)["counts"]["up"] == 1

    fall_silent(monitor["id"], hours=2)
    assert len(run().opened) == 1
    (incident,) = status(client, auth_headers)["openIncidents"]
    assert (incident["monitorId"], incident["cause"]) == (monitor["id"], "No ping for 2h 0m")

    assert client.post(ping_path(monitor), data="backup done").status_code == 200
    assert run().resolved == [incident["incidentId"]]
    detail = client.get(f"/api/v1/monitors/{monitor['id']}", headers=auth_headers).json
    assert detail["monitor"]["status"] == "up"
    assert [(i["status"], i["cause"]) for i in detail["recentIncidents"]] == [("resolved", "No ping for 2h 0m")]


def test_a_fail_ping_opens_an_incident_that_the_next_success_resolves(client, auth_headers):
    monitor = create_heartbeat(client, auth_headers)
    slot = slots()
    run = lambda: run_batch([(monitor["id"], next(slot))])  # noqa: E731

    assert client.post(f"{ping_path(monitor)}/fail", data="disk full").status_code == 200
    assert len(run().opened) == 1
    (incident,) = status(client, auth_headers)["openIncidents"]
    assert incident["cause"] == "Job reported failure"

    client.get(f"{ping_path(monitor)}/start")
    assert run().opened == [] and status(client, auth_headers)["counts"]["down"] == 1, "a start is no success"
    client.get(ping_path(monitor))
    assert run().resolved == [incident["incidentId"]]
