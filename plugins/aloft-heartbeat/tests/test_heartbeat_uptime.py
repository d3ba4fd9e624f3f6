"""A heartbeat's uptime is weighed by time: the share of the window it was not down, from its incidents.

A routine success ping stores no check result, so a share of results would read 50 % after
one missed run; these tests build each history through pings and missed deadlines, moved
into the past with ``travel``, and read it where users do: the API's stats, the daily
series (``/uptime``, the monitor page's bar) and the dashboard.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from heartbeat_support import create_heartbeat, ping_path, sweep, travel
from sqlalchemy import event, select

from aloft.extensions import db
from aloft.models import Incident, Monitor, utcnow
from aloft.stats.outages import uptimes
from aloft.stats.overview import glances
from aloft.testing import issue_key

HOUR = 3600.0


def up_23_hours_then_down(client, headers) -> dict[str, Any]:
    """A heartbeat pinged 24 hours ago, due every 23 hours with no grace: its run 1 hour ago was missed."""
    monitor = create_heartbeat(client, headers, intervalSeconds=23 * 3600, settings={"graceSeconds": 0})
    assert client.get(ping_path(monitor)).status_code == 200
    travel(monitor["id"], hours=24)
    assert len(sweep().opened) == 1
    return monitor


def stats(client, headers, monitor: dict[str, Any]) -> dict[str, Any]:
    response = client.get(f"/api/v1/monitors/{monitor['id']}", headers=headers)
    assert response.status_code == 200
    return response.json["stats"]


def test_a_heartbeat_up_23_hours_then_down_for_1_reads_95_833_percent_over_24_hours(client, auth_headers):
    monitor = up_23_hours_then_down(client, auth_headers)
    read = stats(client, auth_headers, monitor)
    assert read["uptime24h"] == pytest.approx(100 * 23 / 24, abs=0.01), "not 50 %: one success, one missed run"
    assert read["uptime24h"] < 100
    # Counted from the first ping, 24 hours ago: 7 and 30 days read the same.
    assert read["uptime7d"] == pytest.approx(read["uptime24h"], abs=0.01)
    assert read["uptime30d"] == pytest.approx(read["uptime24h"], abs=0.01)
    assert read["checks24h"] == 2
    row = db.session.get(Monitor, monitor["id"])
    db.session.refresh(row)
    assert abs(row.first_result_at - (utcnow() - timedelta(hours=24))) < timedelta(seconds=5), "the first ping's"


def test_the_dashboard_reads_what_the_api_reads(client, org, auth_headers):
    monitor = up_23_hours_then_down(client, auth_headers)
    read = stats(client, auth_headers, monitor)
    glance = glances(db.session, org.id, utcnow())[monitor["id"]]
    assert glance.uptime24h == pytest.approx(read["uptime24h"], abs=0.001)
    assert glance.uptime30d == pytest.approx(read["uptime30d"], abs=0.001)
    assert glance.uptime24h == pytest.approx(100 * 23 / 24, abs=0.01)


def test_each_day_of_the_series_is_weighed_by_time(client, auth_headers):
    monitor = up_23_hours_then_down(client, auth_headers)
    response = client.get(f"/api/v1/monitors/{monitor['id']}/uptime?days=3", headers=auth_headers)
    assert response.status_code == 200
    before, yesterday, today = response.json["days"]
    now = datetime.now(UTC)
    today_so_far = (now - now.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds()
    assert before["uptime"] is None, "the day before the first ping: pending, not up"
    # The incident is the last hour: all of it today, or the part of it after midnight.
    down_today = min(HOUR, today_so_far)
    assert today["downtimeSeconds"] == pytest.approx(down_today, abs=2)
    assert today["uptime"] == pytest.approx(100 * (today_so_far - down_today) / today_so_far, abs=0.05)
    counted_yesterday = 24 * HOUR - today_so_far
    down_yesterday = HOUR - down_today
    assert yesterday["downtimeSeconds"] == pytest.approx(down_yesterday, abs=2)
    up_yesterday = counted_yesterday - down_yesterday
    assert yesterday["uptime"] == pytest.approx(100 * up_yesterday / counted_yesterday, abs=0.05)


def test_an_outage_of_two_days_is_split_across_the_days_it_spans(client, auth_headers):
    """Pinged 50 hours ago, due hourly: down since its run 49 hours ago, until a ping (6 hours ago, later)."""
    monitor = create_heartbeat(client, auth_headers, intervalSeconds=3600, settings={"graceSeconds": 0})
    assert client.get(ping_path(monitor)).status_code == 200
    travel(monitor["id"], hours=50)
    assert len(sweep().opened) == 1
    response = client.get(f"/api/v1/monitors/{monitor['id']}/uptime?days=4", headers=auth_headers)
    days = response.json["days"]
    now = datetime.now(UTC)
    today_so_far = (now - now.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds()
    assert days[-1]["uptime"] == 0.0 and days[-1]["downtimeSeconds"] == pytest.approx(today_so_far, abs=2)
    assert days[-2]["uptime"] == 0.0 and days[-2]["downtimeSeconds"] == 86400
    assert sum(day["downtimeSeconds"] for day in days) == pytest.approx(49 * HOUR, abs=3)
    assert all(day["downtimeSeconds"] <= 86400 for day in days)
    assert stats(client, auth_headers, monitor)["uptime24h"] == 0.0
    assert stats(client, auth_headers, monitor)["uptime7d"] == pytest.approx(100 / 50, abs=0.01), "1 of 50 hours up"
    assert client.get(ping_path(monitor)).status_code == 200, "a recovery"
    travel(monitor["id"], hours=6)
    later = stats(client, auth_headers, monitor)
    assert later["uptime24h"] == pytest.approx(25.0, abs=0.01), "18 of the last 24 hours were down"
    assert later["uptime7d"] == pytest.approx(100 * 7 / 56, abs=0.01), "49 of 56 hours down"


def test_a_heartbeat_that_never_failed_reads_100_percent(client, org, auth_headers):
    monitor = create_heartbeat(client, auth_headers)
    assert client.get(ping_path(monitor)).status_code == 200
    travel(monitor["id"], hours=12)
    assert client.get(ping_path(monitor)).status_code == 200, "the deadline moved on, nothing was missed"
    assert sweep().recorded == 0
    read = stats(client, auth_headers, monitor)
    assert (read["uptime24h"], read["uptime7d"], read["uptime30d"]) == (100.0, 100.0, 100.0)
    glance = glances(db.session, org.id, utcnow())[monitor["id"]]
    assert (glance.uptime24h, glance.uptime30d) == (100.0, 100.0)


def test_a_heartbeat_never_pinged_has_no_uptime_yet(client, org, auth_headers):
    monitor = create_heartbeat(client, auth_headers)
    read = stats(client, auth_headers, monitor)
    assert (read["uptime24h"], read["uptime7d"], read["uptime30d"]) == (None, None, None)
    glance = glances(db.session, org.id, utcnow())[monitor["id"]]
    assert (glance.uptime24h, glance.uptime30d) == (None, None)


def test_pending_time_before_the_first_result_counts_neither_way(client, auth_headers):
    """Never pinged: pending for its first hour, then down from its first missed deadline, 2 hours ago."""
    monitor = create_heartbeat(client, auth_headers, intervalSeconds=3600, settings={"graceSeconds": 0})
    travel(monitor["id"], hours=3)
    assert len(sweep().opened) == 1
    row = db.session.get(Monitor, monitor["id"])
    db.session.refresh(row)
    assert abs(row.first_result_at - (utcnow() - timedelta(hours=2))) < timedelta(seconds=5)
    read = stats(client, auth_headers, monitor)
    assert read["uptime24h"] == 0.0, "down all the time it was judged; its pending hour is not up"


def test_a_recovery_ends_the_downtime(client, auth_headers):
    monitor = up_23_hours_then_down(client, auth_headers)
    travel(monitor["id"], hours=1)  # the miss was 2 hours ago now; the ping below resolves it
    assert client.get(ping_path(monitor)).status_code == 200
    (incident,) = db.session.scalars(select(Incident).where(Incident.monitor_id == monitor["id"]))
    assert incident.status == "resolved"
    # 25 hours counted, down from 2 hours ago until now: over 24 hours, 22 up.
    assert stats(client, auth_headers, monitor)["uptime24h"] == pytest.approx(100 * 22 / 24, abs=0.01)


def test_another_organizations_heartbeats_and_incidents_never_count(app, client, org, other_org, auth_headers):
    ours = create_heartbeat(client, auth_headers)
    assert client.get(ping_path(ours)).status_code == 200
    theirs_headers = {"Authorization": f"Bearer {issue_key(app, other_org)[1]}"}
    theirs = up_23_hours_then_down(client, theirs_headers)
    assert db.session.get(Monitor, theirs["id"]).org_id == other_org.id
    found = glances(db.session, org.id, utcnow())
    assert theirs["id"] not in found
    assert found[ours["id"]].uptime24h == 100.0
    assert uptimes(db.session, org.id, utcnow(), [timedelta(hours=24)], theirs["id"]) == {}
    assert client.get(f"/api/v1/monitors/{theirs['id']}", headers=auth_headers).status_code == 404
    assert stats(client, theirs_headers, theirs)["uptime24h"] == pytest.approx(100 * 23 / 24, abs=0.01)


def test_dashboard_uptimes_cost_one_query_however_many_heartbeats(client, org, auth_headers):
    for number in range(3):
        monitor = create_heartbeat(client, auth_headers, name=f"Job {number}")
        client.get(ping_path(monitor))
    statements = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        few = glances(db.session, org.id, utcnow())
        counted_few = len(statements)
        for number in range(3, 10):
            monitor = create_heartbeat(client, auth_headers, name=f"Job {number}")
            client.get(ping_path(monitor))
        statements.clear()
        many = glances(db.session, org.id, utcnow())
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert (len(few), len(many)) == (3, 10)
    assert len(statements) == counted_few == 4


def test_a_heartbeat_made_anew_from_another_type_counts_from_its_new_first_result(client, auth_headers):
    monitor = up_23_hours_then_down(client, auth_headers)
    body = {"type": "http", "url": "https://example.com/", "settings": {}}
    assert client.patch(f"/api/v1/monitors/{monitor['id']}", json=body, headers=auth_headers).status_code == 200
    body = {"type": "heartbeat", "url": None, "settings": {"graceSeconds": 0}}
    response = client.patch(f"/api/v1/monitors/{monitor['id']}", json=body, headers=auth_headers)
    assert response.status_code == 200, response.json
    read = stats(client, auth_headers, monitor)
    assert read["uptime24h"] is None, "its old incident belongs to its earlier spell"
