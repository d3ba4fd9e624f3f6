"""Passive monitors (heartbeats) in the engine: judged at deadlines, never on the grid.

A passive monitor awaits one deadline at a time, stored on its row (``next_deadline_at``,
indexed): after a run ended (a success or failure ping) the next expected run plus the
grace; after a ``start`` ping the grace (a run that has not finished by then is down);
for a monitor never pinged, its first expected run plus the grace, counted from when it
began listening. The check type says when runs are expected and what the grace is
(:meth:`~aloft.checks.CheckType.expected_after`, :meth:`~aloft.checks.CheckType.grace`).

The usual ping (a success for a monitor that is up, see :mod:`aloft.pings`) notes
``last_ping_at`` and leaves the stored deadline where it was: the stored deadline is then
the earliest the monitor can be late, never later than its real one, which
:func:`current_deadline` works out. Every other ping stores the deadline it sets.

A ping that reports how a run ended changes state at once (:func:`report_run`); silence is
judged by :func:`sweep_deadlines`, which the scheduler runs every tick: one indexed range
query finds the stored deadlines that passed, whatever the number of monitors. A monitor
pinged since its deadline was stored gets its real deadline stored instead (one batched
update, off the ping's path); each deadline really missed is one failed result (slot = the
deadline) whose monitor then awaits its next deadline. Both go through the state machine,
so ``confirmationCount`` counts consecutive missed deadlines and failure reports, and two
schedulers sweeping at once record each missed deadline once (the monitor rows are locked
and the deadline and the last ping compared again).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import marshmallow as ma
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from aloft.checks import CheckResult, CheckType
from aloft.engine.jobs import BatchReport, record_results
from aloft.engine.state import Transition
from aloft.engine.statements import one_writer
from aloft.models import Monitor
from aloft.times import human_duration, isoformat_z

log = logging.getLogger(__name__)

#: Missed deadlines recorded per transaction; a sweep takes batches until none is left (or MAX_BATCHES).
SWEEP_BATCH = 500
MAX_BATCHES = 20


@dataclass(frozen=True)
class Runs:
    """What a passive monitor's pings say about its runs."""

    #: When the monitor began listening (its token's issue, or an unpause).
    listening_since: datetime
    #: The newest ping that said how a run ended.
    last_ping_at: datetime | None = None
    #: The newest ``start`` ping.
    last_started_at: datetime | None = None

    @property
    def open_since(self) -> datetime | None:
        """When the run under way started; None when no run is under way."""
        started = self.last_started_at
        if started is None or (self.last_ping_at is not None and self.last_ping_at >= started):
            return None
        return started


def first_deadline(
    check_type: type[CheckType], settings: dict[str, Any], interval_seconds: int, runs: Runs
) -> datetime:
    """The deadline a monitor awaits given its pings: of the run under way, else of the next run."""
    loaded = check_type.load_settings(settings)
    grace = check_type.grace(loaded)
    if runs.open_since is not None:
        return _whole_ms(runs.open_since + grace)
    return _whole_ms(
        check_type.expected_after(loaded, interval_seconds, runs.last_ping_at or runs.listening_since) + grace
    )


def deadline_after_run(
    check_type: type[CheckType], settings: dict[str, Any], interval_seconds: int, ended_at: datetime
) -> datetime:
    """The deadline after a run that ended (either way) at ``ended_at``: the next run plus the grace."""
    loaded = check_type.load_settings(settings)
    return _whole_ms(check_type.expected_after(loaded, interval_seconds, ended_at) + check_type.grace(loaded))


def deadline_after_start(check_type: type[CheckType], settings: dict[str, Any], started_at: datetime) -> datetime:
    """The deadline of a run that started at ``started_at``: it must finish within the grace."""
    return _whole_ms(started_at + check_type.grace(check_type.load_settings(settings)))


def deadline_after_miss(
    check_type: type[CheckType], settings: dict[str, Any], interval_seconds: int, missed: datetime, now: datetime
) -> datetime:
    """The deadline after one was missed: the run expected next, and always after ``now``.

    A scheduler that was stopped for a while counts one missed deadline per monitor, not
    every one that passed meanwhile.
    """
    loaded = check_type.load_settings(settings)
    grace = check_type.grace(loaded)
    return _whole_ms(check_type.expected_after(loaded, interval_seconds, max(missed, now) - grace) + grace)


def current_deadline(
    check_type: type[CheckType] | None,
    settings: dict[str, Any],
    interval_seconds: int,
    stored: datetime | None,
    runs: Runs,
) -> datetime | None:
    """The deadline a monitor awaits: the one stored on its row, or the later one that usual pings since
    (which note ``last_ping_at`` only) moved it to. None while it awaits none (paused, or not passive)."""
    if stored is None or check_type is None or runs.last_ping_at is None or runs.open_since is not None:
        return stored
    return max(stored, deadline_after_run(check_type, settings, interval_seconds, runs.last_ping_at))


def missed_cause(runs: Runs, now: datetime) -> str:
    """Why a missed deadline is a failure, in words: a run that never finished, or silence."""
    if runs.open_since is not None:
        return f"Started {human_duration(now - runs.open_since)} ago and never finished"
    return f"No ping for {human_duration(now - (runs.last_ping_at or runs.listening_since))}"


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _whole_ms(moment: datetime) -> datetime:
    """Deadlines are kept to the millisecond, as slots are: a missed one is recorded at exactly its time."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def sweep_deadlines(
    session: Session, check_types: Mapping[str, type[CheckType]], now: datetime
) -> tuple[BatchReport, list[Transition]]:
    """Record every deadline that passed by ``now`` as a failed result; returns what that did."""
    total = BatchReport()
    every: list[Transition] = []
    for _ in range(MAX_BATCHES):
        due = session.execute(
            select(
                Monitor.id,
                Monitor.type,
                Monitor.settings,
                Monitor.interval_seconds,
                Monitor.next_deadline_at,
                Monitor.ping_token_issued_at,
                Monitor.last_ping_at,
                Monitor.last_started_at,
                Monitor.updated_at,
            )
            .where(Monitor.next_deadline_at <= now)
            .order_by(Monitor.next_deadline_at)
            .limit(SWEEP_BATCH)
        ).all()
        session.commit()  # on SQLite the recording below must start its own transaction
        if not due:
            break
        checked = []
        deadlines: dict[str, tuple[datetime, datetime | None, datetime | None]] = {}
        later: list[dict[str, Any]] = []
        for row in due:
            check_type = check_types.get(row.type)
            runs = Runs(row.ping_token_issued_at or row.next_deadline_at, row.last_ping_at, row.last_started_at)
            settings = row.settings or {}
            try:
                deadline = current_deadline(check_type, settings, row.interval_seconds, row.next_deadline_at, runs)
            except ma.ValidationError as exc:
                # Settings its check type no longer accepts: nothing says when runs are due. The stored
                # deadline is missed (an alert rather than silence), and no deadline follows it.
                log.warning("monitor %s: settings the %s check refuses: %s", row.id, row.type, exc.messages)
                check_type, deadline = None, row.next_deadline_at
            if deadline > now:  # pinged since the deadline was stored: not late, it awaits a later one
                later.append(
                    {
                        "b_id": row.id,
                        "b_stored": row.next_deadline_at,
                        "b_seen": row.last_ping_at,
                        "b_edited": row.updated_at,
                        "b_later": deadline,
                    }
                )
                continue
            following = (
                None
                if check_type is None  # its plugin is gone: nothing can say when runs are due
                else deadline_after_miss(check_type, settings, row.interval_seconds, deadline, now)
            )
            deadlines[row.id] = (row.next_deadline_at, following, row.last_ping_at)
            details = {"deadline": isoformat_z(deadline), "lastPingAt": isoformat_z(row.last_ping_at)}
            checked.append(
                (row.id, epoch_ms(deadline), CheckResult(False, cause=missed_cause(runs, now), details=details))
            )
        if later:
            later.sort(key=lambda values: values["b_id"])  # rows locked in id order, as the recorder locks them
            with one_writer(session):
                session.execute(_DEADLINE_LATER, later)
                session.commit()
        if not checked:
            if len(due) < SWEEP_BATCH:
                break
            continue
        with one_writer(session):
            report, transitions = record_results(checked, deadlines=deadlines)
        total.recorded += report.recorded
        total.skipped += report.skipped
        total.opened += report.opened
        total.resolved += report.resolved
        total.deliveries += report.deliveries
        every += transitions
        if len(due) < SWEEP_BATCH:
            break
    return total, every


#: A deadline moved on by the pings since it was stored, unless the monitor changed meanwhile (another
#: deadline stored, another ping, an edit: its settings may say another deadline).
_DEADLINE_LATER = (
    update(Monitor.__table__)
    .where(
        Monitor.__table__.c.id == bindparam("b_id"),
        Monitor.__table__.c.next_deadline_at == bindparam("b_stored"),
        Monitor.__table__.c.last_ping_at == bindparam("b_seen"),
        Monitor.__table__.c.updated_at == bindparam("b_edited"),
    )
    .values(next_deadline_at=bindparam("b_later"))
)
