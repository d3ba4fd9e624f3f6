"""Cron schedules in a time zone: when a job's next run is expected.

A schedule is a five-field cron expression as croniter reads it (ranges, steps, lists,
``L`` for the last day of the month, names of days and months), in an IANA time zone
(zoneinfo). Around daylight-saving changes it does what cron daemons do:

* a run at a wall-clock time the clock skips (02:30 on the night it jumps from 02:00 to
  03:00) is expected right after the jump, at 03:00;
* a run at a wall-clock time the clock repeats (02:30 on the night it goes back from
  03:00 to 02:00) is expected once, at its first occurrence.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

#: Runs looked at to find the next one that is not a repeat of the hour a clock went back over.
LOOKAHEAD = 64


def schedule_problem(expression: str) -> str | None:
    """What is wrong with a cron expression; None when croniter can schedule it."""
    if len(expression.split()) != 5:
        return "Must be a cron expression of five fields: minute hour day-of-month month day-of-week."
    if not croniter.is_valid(expression):
        return f"Not a cron expression croniter understands: {expression!r}."
    return None


def zone_problem(name: str) -> str | None:
    """What is wrong with a time zone name; None for an IANA name zoneinfo knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return f"Unknown time zone {name!r}; use an IANA name such as Europe/Berlin or UTC."
    return None


def next_run(expression: str, zone_name: str, after: datetime) -> datetime:
    """The first run of the schedule strictly after ``after`` (aware), in UTC."""
    zone = ZoneInfo(zone_name)
    runs = croniter(expression, after.astimezone(zone))
    for _ in range(LOOKAHEAD):
        run = runs.get_next(datetime)
        if not _repeats_wall_time(run, zone):
            return run.astimezone(UTC)
    return run.astimezone(UTC)


def _repeats_wall_time(run: datetime, zone: ZoneInfo) -> bool:
    """Whether ``run`` is the second occurrence of a wall-clock time the clock went back over."""
    wall = run.replace(tzinfo=None)
    first = wall.replace(tzinfo=zone, fold=0)
    return first.utcoffset() != run.utcoffset() and first.astimezone(UTC) < run.astimezone(UTC)
