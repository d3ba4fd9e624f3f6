"""Cron schedules in a time zone: when a job's next run is expected.

A schedule is a five-field cron expression as croniter reads it (ranges, steps, lists,
``L`` for the last day of the month, names of days and months), in an IANA time zone
(zoneinfo). Around daylight-saving changes it does what cron daemons (Vixie cron, cronie) do:

* a run at a wall-clock time the clock skips (02:30 on the night it jumps from 02:00 to
  03:00) is expected right after the jump, at 03:00;
* a run at a fixed wall-clock time the clock repeats (02:30 on the night it goes back from
  03:00 to 02:00) is expected once, at its first occurrence;
* a schedule with ``*`` in its minute or hour field (``*/15 * * * *``, ``0 * * * *``) is a
  wildcard job: it runs by the clock as it reads, so in both passes of a repeated hour
  (``*/15`` is expected every 15 minutes of real time all night).

A clock a little fast makes a job ping a moment before its run (02:29:58 for 02:30): a ping
at most :data:`EARLY` before a run, and at most a tenth of the time from that run to the
next, counts as that run, so the run after it is the one expected next (see :func:`next_run`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

#: Runs looked at to find the next one that is not a repeat of the hour a clock went back over.
LOOKAHEAD = 64
#: The most a ping may come before a run and still be that run (the heartbeat's grace may make it less).
EARLY = timedelta(seconds=60)
#: ... and never more than this share of the time between the run and the next, so that a
#: job run every minute is not taken for the next run by a ping that was merely late.
EARLY_SHARE = 10


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


def next_run(expression: str, zone_name: str, after: datetime, early: timedelta = timedelta(0)) -> datetime:
    """The first run of the schedule strictly after ``after`` (aware), in UTC.

    With ``early`` (at most :data:`EARLY`), ``after`` is a ping: when it came no more than
    ``early`` (and a tenth of the time to the following run) before a run, it was that run,
    and the following one is returned.
    """
    zone = ZoneInfo(zone_name)
    run = _first_after(expression, zone, after)
    if run - after <= early:
        following = _first_after(expression, zone, run)
        if run - after <= min(early, (following - run) / EARLY_SHARE):
            return following
    return run


def _first_after(expression: str, zone: ZoneInfo, after: datetime) -> datetime:
    runs = croniter(expression, after.astimezone(zone))
    wildcard = _is_wildcard(expression)
    for _ in range(LOOKAHEAD):
        run = runs.get_next(datetime)
        if wildcard or not _repeats_wall_time(run, zone):
            return run.astimezone(UTC)
    return run.astimezone(UTC)


def _is_wildcard(expression: str) -> bool:
    """Whether the schedule runs by the clock as it reads: ``*`` starts its minute or hour field (Vixie cron's rule)."""
    minute, hour = expression.split()[:2]
    return minute.startswith("*") or hour.startswith("*")


def _repeats_wall_time(run: datetime, zone: ZoneInfo) -> bool:
    """Whether ``run`` is the second occurrence of a wall-clock time the clock went back over."""
    wall = run.replace(tzinfo=None)
    first = wall.replace(tzinfo=zone, fold=0)
    return first.utcoffset() != run.utcoffset() and first.astimezone(UTC) < run.astimezone(UTC)
