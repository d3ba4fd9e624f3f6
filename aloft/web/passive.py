"""What pages say of a passive monitor (a heartbeat): when it expects runs, how late they may be, and where it stands.

A passive monitor is not checked: its job pings it. So instead of a last check a page shows
its last ping, the run under way (a ``start`` ping not yet followed by its end) and the
deadline it awaits. Runs are expected every ``intervalSeconds``, or on the cron ``schedule``
in ``timezone`` that the heartbeat type's settings hold; the grace is the type's own word
(:meth:`~aloft.checks.CheckType.grace`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import marshmallow as ma

from aloft.checks import CheckType
from aloft.engine.heartbeats import Runs, current_deadline
from aloft.models import Monitor
from aloft.times import human_duration
from aloft.web.display import duration


def schedule_text(settings: dict[str, Any] | None, interval_seconds: int) -> str:
    """``cron 30 2 * * * (Europe/Berlin)``, or ``every 5m 0s``: when the monitor's runs are expected."""
    schedule = (settings or {}).get("schedule")
    if schedule:
        return f"cron {schedule} ({(settings or {}).get('timezone') or 'UTC'})"
    return f"every {duration(interval_seconds)}"


@dataclass(frozen=True)
class Expectation:
    """A passive monitor's schedule and the state of its runs, as its page shows them."""

    schedule: str
    #: The type's grace in words (``1m 0s``); None when the stored settings no longer load (the type changed).
    grace: str | None
    last_ping_at: datetime | None
    last_ping_kind: str | None
    last_started_at: datetime | None
    #: When the run under way started; None when none is.
    running_since: datetime | None
    #: When silence becomes a missed run; None while paused (or when the type is not installed).
    deadline: datetime | None


def expectation(monitor: Monitor, check_type: type[CheckType]) -> Expectation:
    try:
        grace: str | None = human_duration(check_type.grace(check_type.load_settings(monitor.settings or {})))
    except ma.ValidationError:
        grace = None
    runs = Runs(monitor.ping_token_issued_at or monitor.created_at, monitor.last_ping_at, monitor.last_started_at)
    return Expectation(
        schedule=schedule_text(monitor.settings, monitor.interval_seconds),
        grace=grace,
        last_ping_at=monitor.last_ping_at,
        last_ping_kind=monitor.last_ping_kind,
        last_started_at=monitor.last_started_at,
        running_since=runs.open_since,
        deadline=_deadline(monitor, check_type, runs),
    )


def _deadline(monitor: Monitor, check_type: type[CheckType], runs: Runs) -> datetime | None:
    """The deadline the monitor awaits, later than the stored one when usual pings came since."""
    try:
        return current_deadline(
            check_type, monitor.settings or {}, monitor.interval_seconds, monitor.next_deadline_at, runs
        )
    except ma.ValidationError:
        return monitor.next_deadline_at
