"""What is due: claim a stretch of time atomically and hand out the checks due in it, in batches.

A monitor's checks lie on a grid: they are due at every epoch millisecond ``t`` with
``t % interval == spread_key % interval``, where ``spread_key`` is random per monitor, so
the checks of a thousand monitors with one interval spread over it. No per-check due time
is stored. A scheduler claims the stretch ``(since, until]`` by moving the installation's
one schedule mark from ``since`` to ``until`` with a compare-and-set, then hands out every
check due in it: two schedulers running at once never claim the same stretch, so never
run a check twice, and handing out ten thousand checks writes one row, not ten thousand.

Consequences that follow from the grid:

* a new or unpaused monitor is first checked at its next grid point, within one interval;
* a changed interval takes effect at once: the next check is the new grid's next point;
* a scheduler that was stopped for a while checks each monitor once, at its latest grid
  point, and carries on from there, rather than replaying every missed check.

Passive monitors (heartbeats) are not on the grid: each tick also records the deadlines
that passed (:func:`aloft.engine.heartbeats.sweep_deadlines`, one indexed query).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy import BigInteger, Select, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aloft.engine.heartbeats import sweep_deadlines
from aloft.engine.jobs import notify_observers
from aloft.engine.statements import one_writer
from aloft.models import SCHEDULE_ID, Monitor, Schedule, utcnow
from aloft.notify.sending import due_deliveries

if TYPE_CHECKING:
    from aloft.engine.executors import Executor

log = logging.getLogger(__name__)

#: How far back the very first claim of an installation reaches.
FIRST_CLAIM_MS = 1000


@dataclass(frozen=True)
class Claim:
    """One check to run: the monitor and the slot (due time, epoch ms) it is for.

    The slot identifies the check: replaying a claim writes nothing twice.
    """

    monitor_id: str
    slot_ms: int


def now_ms() -> int:
    return int(time.time() * 1000)


def latest_slot(until_ms: int, interval_seconds: int, spread_key: int) -> int:
    """The monitor's last grid point at or before ``until_ms``."""
    interval_ms = interval_seconds * 1000
    return until_ms - (until_ms - spread_key % interval_ms) % interval_ms


def spread_key_for(slot_ms: int, interval_seconds: int) -> int:
    """A spread key whose grid passes through ``slot_ms`` (tests use it to make a check due)."""
    return slot_ms % (interval_seconds * 1000)


def claim_stretch(session: Session, until_ms: int) -> tuple[int, int] | None:
    """Move the schedule mark to ``until_ms``; returns the stretch ``(since, until]`` now ours.

    None when the mark is already there, or another scheduler moved it first (it owns that
    stretch; the next call claims from where it stopped).
    """
    with one_writer(session):
        return _claim_stretch(session, until_ms)


def _claim_stretch(session: Session, until_ms: int) -> tuple[int, int] | None:
    since = session.scalar(select(Schedule.handed_out_until_ms).where(Schedule.id == SCHEDULE_ID))
    if since is None:
        # The installation's first claim; a scheduler that loses the race to make the row waits a tick.
        try:
            session.execute(insert(Schedule).values(id=SCHEDULE_ID, handed_out_until_ms=until_ms))
            session.commit()
        except IntegrityError:
            session.rollback()
            return None
        return until_ms - FIRST_CLAIM_MS, until_ms
    if since >= until_ms:
        session.commit()
        return None
    claimed = session.execute(
        update(Schedule)
        .where(Schedule.id == SCHEDULE_ID, Schedule.handed_out_until_ms == since)
        .values(handed_out_until_ms=until_ms)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return (since, until_ms) if claimed == 1 else None


def release_stretch(session: Session, since_ms: int, until_ms: int) -> None:
    """Give back a stretch whose checks could not be handed out: move the mark from ``until`` back to ``since``.

    The next claim then covers it again, so no check is lost to an executor that could not
    take it (RQ while Redis is away). When another scheduler has moved the mark on meanwhile
    the mark stays where it is: that scheduler handed the later stretch out.
    """
    with one_writer(session):
        session.execute(
            update(Schedule)
            .where(Schedule.id == SCHEDULE_ID, Schedule.handed_out_until_ms == until_ms)
            .values(handed_out_until_ms=since_ms)
            .execution_options(synchronize_session=False)
        )
        session.commit()


def due_in(session: Session, since_ms: int, until_ms: int) -> list[Claim]:
    """Every check due in ``(since, until]`` of an unpaused monitor, oldest slot first.

    A stretch longer than a monitor's interval holds its latest grid point only.
    """
    rows = session.execute(grid_query(since_ms, until_ms)).all()
    session.commit()
    claims = [Claim(monitor_id, latest_slot(until_ms, interval, key)) for monitor_id, interval, key in rows]
    claims.sort(key=lambda claim: claim.slot_ms)
    return claims


def grid_query(since_ms: int, until_ms: int) -> Select[tuple[str, int, int]]:
    """The monitors with a grid point in ``(since, until]``: unpaused, and reaching out (not passive).

    Those two conditions are the predicate of the index ``ix_monitors_grid``, which holds
    every column read, so passive monitors cost the grid nothing however many there are.
    """
    interval_ms = Monitor.interval_seconds * literal(1000, BigInteger())
    phase = Monitor.spread_key % interval_ms
    # One more grid point has passed by ``until`` than by ``since``. All values are
    # positive, so integer division is floor division on both databases.
    crossed = (literal(until_ms, BigInteger()) - phase) // interval_ms > (
        literal(since_ms, BigInteger()) - phase
    ) // interval_ms
    return select(Monitor.id, Monitor.interval_seconds, Monitor.spread_key).where(
        Monitor.paused.is_(False), Monitor.ping_token.is_(None), crossed
    )


def batches(claims: list[Claim], size: int) -> Iterator[list[Claim]]:
    for start in range(0, len(claims), size):
        yield claims[start : start + size]


#: Checks per job: enough to amortise a job's overhead, few enough to spread over workers.
BATCH_SIZE = 200


#: Seconds between two sweeps for deliveries that are due (retries, and those nobody sent).
SWEEP_SECONDS = 1.0


class Scheduler:
    """Every tick: claim the time since the last tick and hand its checks to an executor in batches.

    Every :data:`SWEEP_SECONDS` it also hands the executor the notifications that are due
    and that nobody is sending (:func:`aloft.notify.sending.due_deliveries`). Every tick it
    records the heartbeat deadlines that passed, itself: no check runs for them. Needs an
    app context (the scheduler's thread has one).
    """

    def __init__(self, session_factory: Callable[[], Session], executor: Executor, *, tick: float = 0.5) -> None:
        self.session_factory = session_factory
        self.executor = executor
        self.tick = tick
        self._swept_at = 0.0

    def run_once(self) -> int:
        """One tick; returns the number of checks handed out.

        When the executor cannot take them (RQ while Redis is away), the stretch is given
        back and claimed again by a later tick: once Redis is back, each monitor due
        meanwhile is checked once, at its latest grid point, as after a scheduler restart.
        """
        session = self.session_factory()
        try:
            self.sweep(session)
            self.judge_deadlines(session)
            stretch = claim_stretch(session, now_ms())
            if stretch is None:
                return 0
            claims = due_in(session, *stretch)
            if not self.executor.submit(list(batches(claims, BATCH_SIZE))):
                release_stretch(session, *stretch)
                return 0
            return len(claims)
        finally:
            session.close()

    def judge_deadlines(self, session: Session) -> int:
        """Record the passive monitors' missed deadlines and send what they cause; returns how many."""
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        report, transitions = sweep_deadlines(session, app.extensions["aloft.plugins"].check_types, utcnow())
        if report.deliveries:
            self.executor.send(report.deliveries)
        notify_observers(app, [], transitions)
        return report.recorded

    def sweep(self, session: Session, *, force: bool = False) -> int:
        """Hand out due deliveries (at most every SWEEP_SECONDS unless ``force``); returns how many."""
        if not force and time.monotonic() - self._swept_at < SWEEP_SECONDS:
            return 0
        self._swept_at = time.monotonic()
        due = due_deliveries(session)
        if due:
            self.executor.send(due)
        return len(due)

    def run(self, stop: threading.Event) -> None:
        log.info("scheduler started")
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.run_once()
            except Exception:
                # A database hiccup must not stop scheduling: log it and try again next tick.
                log.exception("scheduler tick failed")
            stop.wait(max(0.0, self.tick - (time.monotonic() - started)))
        log.info("scheduler stopped")
