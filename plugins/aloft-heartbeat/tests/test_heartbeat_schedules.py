"""Cron schedules in a time zone: runs expected as cron daemons run them, across daylight-saving nights."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aloft_heartbeat import HeartbeatCheck
from heartbeat_support import create_heartbeat, ping_path, sweep

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


def test_a_quarter_hourly_job_in_berlin_is_expected_in_both_passes_of_the_repeated_hour():
    # 25 October 2026: 03:00 CEST (01:00 UTC) goes back to 02:00 CET; 02:00-02:59 happens twice.
    runs = runs_after(local(BERLIN, 2026, 10, 25, 1, 50), "*/15 * * * *", "Europe/Berlin", count=10)
    every_quarter_hour = [datetime(2026, 10, 25, 0, 0, tzinfo=UTC) + timedelta(minutes=15 * n) for n in range(10)]
    assert runs == every_quarter_hour, "00:00-02:15 UTC: 02:00-02:45 CEST, 02:00-02:45 CET, 03:00, 03:15"
    assert [run.astimezone(BERLIN).strftime("%H:%M %Z") for run in runs[3:6]] == [
        "02:45 CEST",
        "02:00 CET",
        "02:15 CET",
    ]


def test_an_hourly_job_runs_in_both_passes_and_a_fixed_quarter_hour_list_once():
    hourly = runs_after(local(BERLIN, 2026, 10, 25, 1, 30), "0 * * * *", "Europe/Berlin")
    assert hourly == [datetime(2026, 10, 25, hour, tzinfo=UTC) for hour in (0, 1, 2)], "02:00 CEST, 02:00 CET, 03:00"
    fixed = runs_after(local(BERLIN, 2026, 10, 25, 1, 30), "0,30 2 * * *", "Europe/Berlin")
    assert fixed == [
        datetime(2026, 10, 25, 0, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 26, 1, 0, tzinfo=UTC),
    ], "02:00 and 02:30 of summer time only, then the next night"


def test_a_quarter_hourly_job_in_berlin_runs_on_the_new_time_when_the_clock_skips_an_hour():
    runs = runs_after(local(BERLIN, 2026, 3, 29, 1, 40), "*/15 * * * *", "Europe/Berlin")
    assert runs == [
        local(BERLIN, 2026, 3, 29, 1, 45),
        local(BERLIN, 2026, 3, 29, 3, 0),
        local(BERLIN, 2026, 3, 29, 3, 15),
    ]


def expected_after_ping(schedule: str, pinged: datetime, grace: int = 60) -> datetime:
    settings = HeartbeatCheck.load_settings({"schedule": schedule, "graceSeconds": grace})
    return HeartbeatCheck.expected_after(settings, 300, pinged)


RUN = datetime(2026, 11, 28, 2, 30, tzinfo=UTC)


def test_a_ping_2_s_before_its_run_counts_as_that_run():
    assert expected_after_ping("30 2 * * *", RUN - timedelta(seconds=2)) == RUN + timedelta(days=1)


def test_a_ping_a_minute_early_is_that_run_and_one_more_second_is_not():
    assert expected_after_ping("30 2 * * *", RUN - timedelta(seconds=60)) == RUN + timedelta(days=1)
    assert expected_after_ping("30 2 * * *", RUN - timedelta(seconds=61)) == RUN


def test_a_ping_much_earlier_does_not_satisfy_the_run():
    assert expected_after_ping("30 2 * * *", RUN - timedelta(minutes=10)) == RUN


def test_the_grace_bounds_how_early_a_ping_may_be():
    assert expected_after_ping("30 2 * * *", RUN - timedelta(seconds=2), grace=1) == RUN
    assert expected_after_ping("30 2 * * *", RUN - timedelta(seconds=1), grace=1) == RUN + timedelta(days=1)


def test_an_every_minute_job_whose_ping_was_late_is_not_taken_for_the_next_run():
    # A tenth of the minute between runs: 6 s. A run at 02:30 pinging at 02:30:50 is late, not early for 02:31.
    assert expected_after_ping("* * * * *", RUN + timedelta(seconds=50)) == RUN + timedelta(minutes=1)
    assert expected_after_ping("* * * * *", RUN - timedelta(seconds=5)) == RUN + timedelta(minutes=1)


def test_an_early_ping_counts_as_the_run_in_every_time_zone():
    run = local(BERLIN, 2026, 11, 28, 2, 30)
    settings = {"schedule": "30 2 * * *", "timezone": "Europe/Berlin"}
    loaded = HeartbeatCheck.load_settings(settings)
    assert HeartbeatCheck.expected_after(loaded, 300, run - timedelta(seconds=2)) == run + timedelta(days=1)


def daily_at(moment: datetime) -> str:
    return f"{moment.minute} {moment.hour} * * *"


def test_a_ping_seconds_before_its_run_raises_no_alert_at_that_runs_deadline(client, auth_headers):
    # The run is the whole minute after now, so the ping below comes 0-60 s before it.
    now = datetime.now(UTC)
    run = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    monitor = create_heartbeat(client, auth_headers, settings={"schedule": daily_at(run), "graceSeconds": 60})
    assert client.get(ping_path(monitor)).status_code == 200
    row = db.session.get(Monitor, monitor["id"])
    db.session.refresh(row)
    assert row.next_deadline_at == run + timedelta(days=1, seconds=60), "the ping was that run: tomorrow's is next"
    report = sweep(run + timedelta(seconds=61))
    assert (report.recorded, report.opened) == (0, [])
    db.session.refresh(row)
    assert row.status == "up"


def test_a_ping_ten_minutes_before_its_run_still_leaves_the_run_to_come(client, auth_headers):
    now = datetime.now(UTC)
    run = now.replace(second=0, microsecond=0) + timedelta(minutes=10)
    monitor = create_heartbeat(client, auth_headers, settings={"schedule": daily_at(run), "graceSeconds": 60})
    assert client.get(ping_path(monitor)).status_code == 200
    report = sweep(run + timedelta(seconds=61))
    assert (report.recorded, len(report.opened)) == (1, 1), "the run did not ping: alert"
