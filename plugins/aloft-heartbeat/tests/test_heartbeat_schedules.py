"""Cron schedules in a time zone: runs expected as cron daemons run them, across daylight-saving nights."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aloft_heartbeat import HeartbeatCheck
from heartbeat_support import create_heartbeat, ping_path

from aloft.extensions import db
from aloft.models import Monitor

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def runs_after(moment: datetime, schedule: str, timezone: str, count: int = 3) -> list[datetime]:
    settings = HeartbeatCheck.load_settings({"schedule": schedule, "timezone": timezone})
    runs = []
    for _ in range(count):
        moment = HeartbeatCheck.expected_after(settings, 300, moment)
        runs.append(moment)
    return runs


def local(zone: ZoneInfo, *fields: int, fold: int = 0) -> datetime:
    return datetime(*fields, tzinfo=zone, fold=fold)


def test_a_0230_job_in_berlin_runs_at_0300_on_the_night_the_clock_skips_0230():
    runs = runs_after(local(BERLIN, 2026, 3, 28, 2, 30, 5), "30 2 * * *", "Europe/Berlin")
    assert runs == [
        local(BERLIN, 2026, 3, 29, 3, 0),
        local(BERLIN, 2026, 3, 30, 2, 30),
        local(BERLIN, 2026, 3, 31, 2, 30),
    ]
    assert runs[0] == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_a_0230_job_in_berlin_runs_once_on_the_night_the_clock_repeats_0230():
    runs = runs_after(local(BERLIN, 2026, 10, 24, 2, 30, 5), "30 2 * * *", "Europe/Berlin")
    assert runs[0] == datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "the first 02:30, still summer time"
    assert runs[1] == datetime(2026, 10, 26, 1, 30, tzinfo=UTC), "not the second 02:30 an hour later"


def test_a_0230_job_in_new_york_runs_at_0300_on_the_night_the_clock_skips_0230():
    runs = runs_after(local(NEW_YORK, 2026, 3, 7, 2, 30, 5), "30 2 * * *", "America/New_York")
    assert runs[:2] == [local(NEW_YORK, 2026, 3, 8, 3, 0), local(NEW_YORK, 2026, 3, 9, 2, 30)]
    assert runs[0] == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


def test_a_0130_job_in_new_york_runs_once_on_the_night_the_clock_repeats_0130():
    runs = runs_after(local(NEW_YORK, 2026, 10, 31, 1, 30, 5), "30 1 * * *", "America/New_York")
    assert runs[0] == datetime(2026, 11, 1, 5, 30, tzinfo=UTC), "01:30 EDT"
    assert runs[1] == datetime(2026, 11, 2, 6, 30, tzinfo=UTC), "then 01:30 EST the next day, not an hour later"


def test_a_0230_job_in_new_york_runs_once_on_the_night_the_clock_goes_back():
    runs = runs_after(local(NEW_YORK, 2026, 10, 31, 2, 30, 5), "30 2 * * *", "America/New_York")
    assert runs[:2] == [datetime(2026, 11, 1, 7, 30, tzinfo=UTC), datetime(2026, 11, 2, 7, 30, tzinfo=UTC)]


def test_l_is_the_last_day_of_the_month():
    runs = runs_after(datetime(2026, 2, 10, tzinfo=UTC), "0 0 L * *", "UTC")
    assert runs == [
        datetime(2026, 2, 28, tzinfo=UTC),
        datetime(2026, 3, 31, tzinfo=UTC),
        datetime(2026, 4, 30, tzinfo=UTC),
    ]


def test_ranges_and_steps_skip_to_the_next_working_morning():
    friday_evening = local(BERLIN, 2026, 11, 27, 17, 50)
    runs = runs_after(friday_evening, "*/15 9-17 * * 1-5", "Europe/Berlin")
    assert runs == [
        local(BERLIN, 2026, 11, 30, 9, 0),
        local(BERLIN, 2026, 11, 30, 9, 15),
        local(BERLIN, 2026, 11, 30, 9, 30),
    ]


def test_without_a_schedule_runs_are_expected_every_interval():
    settings = HeartbeatCheck.load_settings({})
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    assert HeartbeatCheck.expected_after(settings, 600, moment) == moment + timedelta(minutes=10)


def test_a_scheduled_monitors_deadline_is_its_next_run_plus_the_grace(client, auth_headers):
    settings = {"schedule": "30 2 * * *", "timezone": "Europe/Berlin", "graceSeconds": 1800}
    monitor = create_heartbeat(client, auth_headers, settings=settings)
    assert monitor["settings"] == settings
    client.get(ping_path(monitor))
    row = db.session.get(Monitor, monitor["id"])
    db.session.refresh(row)
    next_run = HeartbeatCheck.expected_after(HeartbeatCheck.load_settings(settings), 300, row.last_ping_at)
    assert next_run.astimezone(BERLIN).time().isoformat() in ("02:30:00", "03:00:00")
    assert abs(row.next_deadline_at - (next_run + timedelta(minutes=30))) < timedelta(milliseconds=1)


@pytest.mark.parametrize(
    ("settings", "field", "message"),
    [
        ({"schedule": "61 * * * *"}, "schedule", "Not a cron expression croniter understands: '61 * * * *'."),
        ({"schedule": "* * * * * *"}, "schedule", "Must be a cron expression of five fields"),
        ({"schedule": "every day"}, "schedule", "Must be a cron expression of five fields"),
        ({"schedule": "30 2 * * *", "timezone": "Mars/Olympus"}, "timezone", "Unknown time zone 'Mars/Olympus'"),
        ({"timezone": "../../etc/passwd"}, "timezone", "Unknown time zone"),
        ({"schedule": 5}, "schedule", "Not a valid string."),
    ],
)
def test_an_invalid_schedule_or_time_zone_is_a_400_naming_the_field(client, auth_headers, settings, field, message):
    body = {"name": "Nightly backup", "type": "heartbeat", "settings": settings}
    response = client.post("/api/v1/monitors", json=body, headers=auth_headers)
    assert response.status_code == 400
    (issue,) = response.json["issues"]
    assert issue["path"] == ["settings", field]
    assert issue["message"].startswith(message)
