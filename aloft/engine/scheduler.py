"""What is due: claim monitors atomically and group them into batches of checks.

A claim moves a monitor's ``next_check_ms`` one interval on in the same statement that
selects it, so two schedulers running at once never claim the same check: on PostgreSQL
the candidate rows are locked with ``FOR UPDATE SKIP LOCKED``, and SQLite runs one
writer at a time. A monitor that was never scheduled (new, or just unpaused) first gets a
due time spread over its interval, so a thousand new monitors do not all run at once.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, bindparam, case, literal, select, update
from sqlalchemy.orm import Session

from aloft.models import Monitor

if TYPE_CHECKING:
    from aloft.engine.executors import Executor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claim:
    """One check to run: the monitor and the slot (due time, epoch ms) it is for.

    The slot identifies the check: replaying a claim writes nothing twice.
    """

    monitor_id: str
    slot_ms: int


def now_ms() -> int:
    return int(time.time() * 1000)


def spread_offset_ms(monitor_id: str, interval_seconds: int) -> int:
    """A stable offset within the interval, from the monitor's id."""
    digest = int.from_bytes(hashlib.sha256(monitor_id.encode()).digest()[:8], "big")
    return digest % (interval_seconds * 1000)


def schedule_new(session: Session, now: int) -> int:
    """Give unscheduled, unpaused monitors a first due time; returns how many."""
    rows = session.execute(
        select(Monitor.id, Monitor.interval_seconds).where(Monitor.next_check_ms.is_(None), Monitor.paused.is_(False))
    ).all()
    if rows:
        monitors = Monitor.__table__
        # One executemany; the IS NULL guard leaves a monitor another scheduler got to first alone.
        session.execute(
            update(monitors)
            .where(monitors.c.id == bindparam("scheduled_id"), monitors.c.next_check_ms.is_(None))
            .values(next_check_ms=bindparam("first_due_ms")),
            [
                {"scheduled_id": monitor_id, "first_due_ms": now + spread_offset_ms(monitor_id, interval)}
                for monitor_id, interval in rows
            ],
        )
    session.commit()
    return len(rows)


def claim_due(session: Session, now: int, limit: int) -> list[Claim]:
    """Claim up to ``limit`` due checks and move each monitor to its next due time.

    A monitor that fell behind (the scheduler was down) is checked once and then
    rescheduled from now, rather than replaying every missed slot.
    """
    # Typed literals: PostgreSQL would otherwise bind them as 32-bit integers.
    interval_ms = Monitor.interval_seconds * literal(1000, BigInteger())
    now_literal = literal(now, BigInteger())
    due = (
        select(Monitor.id)
        .where(Monitor.paused.is_(False), Monitor.next_check_ms <= now)
        .order_by(Monitor.next_check_ms)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    # The slot is the due time, or now for a monitor that is a whole interval late:
    # in both cases the new due time is slot + interval, so slot = new - interval.
    late = Monitor.next_check_ms + interval_ms <= now_literal
    claimed = session.execute(
        update(Monitor)
        .where(Monitor.id.in_(due.scalar_subquery()))
        .values(next_check_ms=case((late, now_literal + interval_ms), else_=Monitor.next_check_ms + interval_ms))
        .returning(Monitor.id, Monitor.next_check_ms, Monitor.interval_seconds)
        .execution_options(synchronize_session=False)
    ).all()
    session.commit()
    return [Claim(monitor_id, next_ms - interval * 1000) for monitor_id, next_ms, interval in claimed]


def batches(claims: list[Claim], size: int) -> Iterator[list[Claim]]:
    for start in range(0, len(claims), size):
        yield claims[start : start + size]


#: Checks per job: enough to amortise a job's overhead, few enough to spread over workers.
BATCH_SIZE = 50
#: Most checks claimed in one statement.
CLAIM_LIMIT = 2000


class Scheduler:
    """Every tick: schedule new monitors, claim what is due, hand the batches to an executor."""

    def __init__(self, session_factory: Callable[[], Session], executor: Executor, *, tick: float = 0.5) -> None:
        self.session_factory = session_factory
        self.executor = executor
        self.tick = tick

    def run_once(self) -> int:
        """One tick; returns the number of checks handed out."""
        session = self.session_factory()
        try:
            now = now_ms()
            schedule_new(session, now)
            handed_out = 0
            while True:
                claims = claim_due(session, now, CLAIM_LIMIT)
                self.executor.submit(list(batches(claims, BATCH_SIZE)))
                handed_out += len(claims)
                if len(claims) < CLAIM_LIMIT:
                    return handed_out
        finally:
            session.close()

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
