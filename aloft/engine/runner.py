"""The engine in a worker (or, embedded, the scheduler): checks run in a check process, recorded in groups.

:meth:`Runner.submit` loads the claimed monitors and hands them to the check process
(:mod:`aloft.engine.check_process`); outcomes come back as checks finish, and a recorder
thread writes whatever has finished in one transaction, then tells the observers. A slow
check (a host that takes its whole timeout to answer) holds one check thread, never the
checks it was claimed with nor the recording of anyone else's, and no longer than its
timeout and a grace (:class:`~aloft.engine.check_process.CheckThreads`).

Two limits make ``submit`` wait: at most ``max_running`` checks in the check process (sent,
not finished), and at most ``max_in_flight`` in hand (sent, not yet recorded). The first
keeps enough queued to keep every check thread busy; the second is the back-pressure: a
worker whose recording falls behind takes no more jobs, and an embedded scheduler claims
its next stretch later (each monitor is then checked once, at its latest slot, rather than
replaying a backlog). They are separate because a group being written and the checks
finishing meanwhile are in hand too: with one limit of 512, a group of 1,000 being written
left the check threads nothing to do for most of each write (splitting them raised the
embedded ceiling from 0.62 to 0.66 of the raw client's; docs/engine-benchmarks.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from flask import Flask

from aloft.checks import CheckResult, CheckTarget
from aloft.engine.check_process import CheckProcess, Key, Outcome
from aloft.engine.jobs import load_targets, notify_observers, record_outcomes
from aloft.extensions import db
from aloft.notify.dispatch import sender

log = logging.getLogger(__name__)

#: Most outcomes written in one transaction.
MAX_GROUP = 1000
#: How long the recorder lets finished checks gather before writing them.
GATHER_SECONDS = 0.05
#: How long a failed write is retried (the database restarting, say) before its outcomes are dropped.
RETRY_SECONDS = 30
#: A check still unreported this long past its timeout is given up on. The check process reports a
#: check whose plugin never returns as timed out a moment after its deadline: this is the last resort.
GIVE_UP_AFTER_TIMEOUT_SECONDS = 300


class Runner:
    """Checks of claimed monitors run in a child process and recorded here as they finish."""

    def __init__(
        self,
        app: Flask,
        *,
        concurrency: int | None = None,
        max_running: int | None = None,
        max_in_flight: int | None = None,
    ) -> None:
        settings = app.extensions["aloft.settings"]
        self.app = app
        self.concurrency = concurrency or settings.check_concurrency
        self.max_running = max_running or 8 * self.concurrency
        # Room for the group being written and as many finishing meanwhile, beside a full check process.
        self.max_in_flight = max_in_flight or self.max_running + 2 * MAX_GROUP
        self.process = CheckProcess(
            self._finished_checks,
            self._lost_checks,
            threads=self.concurrency,
            plugins_disabled=settings.plugins_disabled,
            target_policy=settings.target_policy,
            log_level=settings.log_level,
        )
        self._changed = threading.Condition()
        #: Handed over and not yet recorded, with when each was handed over (monotonic seconds).
        self._in_hand: dict[Key, tuple[CheckTarget, float]] = {}
        self._finished: list[Outcome] = []
        #: How many outcomes the recorder has taken and not yet written.
        self._recording = 0
        self._stopping = False
        self._recorder = threading.Thread(target=self._record_forever, name="aloft-recorder", daemon=True)
        self.recorded = 0

    def start(self) -> Runner:
        self.process.start()
        self._recorder.start()
        return self

    @property
    def in_flight(self) -> int:
        """Checks handed over and not yet recorded."""
        with self._changed:
            return len(self._in_hand)

    def _running(self) -> int:
        """Checks in the check process (in hand, not finished); call with ``_changed`` held."""
        return len(self._in_hand) - len(self._finished) - self._recording

    def _full(self) -> bool:
        return len(self._in_hand) >= self.max_in_flight or self._running() >= self.max_running

    def submit(self, claims: Sequence[tuple[str, int]]) -> int:
        """Hand the claimed checks (``(monitor_id, slot_ms)`` pairs) to the check process; returns how many.

        Paused and deleted monitors are left out. Needs an app context (it reads the monitors).
        Waits while too many checks are in hand; raises RuntimeError once the runner is closing.
        """
        slots: dict[str, list[int]] = {}
        for monitor_id, slot_ms in claims:
            slots.setdefault(monitor_id, []).append(slot_ms)
        try:
            targets = load_targets(slots)
        finally:
            db.session.rollback()  # no transaction held open while the checks run
        work = [((target.id, slot), target) for target in targets for slot in slots[target.id]]
        with self._changed:
            while self._full() and not self._stopping:
                self._changed.wait()
            if self._stopping:
                raise RuntimeError("the check runner is shutting down")
            now = time.monotonic()
            work = [(key, target) for key, target in work if key not in self._in_hand]
            self._in_hand.update((key, (target, now)) for key, target in work)
        try:
            self.process.submit(work)
        except (OSError, ValueError):
            self._lost_checks([key for key, _ in work])
            raise
        return len(work)

    def _finished_checks(self, outcomes: list[Outcome]) -> None:
        with self._changed:
            self._finished.extend(outcomes)
            self._changed.notify_all()

    def _lost_checks(self, keys: list[Key]) -> None:
        with self._changed:
            for key in keys:
                self._in_hand.pop(key, None)
            self._changed.notify_all()
        if keys:
            log.warning(
                "%d checks were lost with the check process; their monitors are checked next interval", len(keys)
            )

    def _record_forever(self) -> None:
        with self.app.app_context():
            while (group := self._next_group()) is not None:
                if not group:
                    continue
                try:
                    self._record(group)
                except Exception:  # never let the recorder die: later checks must still be recorded
                    log.exception("recording a group of %d checks failed", len(group))
                    with self._changed:
                        self._recording = 0

    def _next_group(self) -> list[tuple[Key, CheckTarget, CheckResult | None]] | None:
        """Wait for finished checks; None once the runner is closing and nothing is left in hand."""
        with self._changed:
            while not self._finished:
                if self._stopping and not self._in_hand:
                    return None
                self._changed.wait(timeout=1.0)
                self._give_up_on_stuck_checks()
            # Gather a moment: a few transactions a second rather than one per finished check.
            gather_until = time.monotonic() + GATHER_SECONDS
            while len(self._finished) < MAX_GROUP and (left := gather_until - time.monotonic()) > 0:
                self._changed.wait(timeout=left)
            group, self._finished = self._finished[:MAX_GROUP], self._finished[MAX_GROUP:]
            taken = [(key, self._in_hand[key][0], result) for key, result in group if key in self._in_hand]
            self._recording = len(taken)
            return taken

    def _give_up_on_stuck_checks(self) -> None:
        now = time.monotonic()
        stuck = [
            key
            for key, (target, handed_over) in self._in_hand.items()
            if now - handed_over > target.timeout_seconds + GIVE_UP_AFTER_TIMEOUT_SECONDS
        ]
        for key in stuck:
            del self._in_hand[key]
            log.error("the check of monitor %s for slot %d never finished; giving up on it", *key)
        if stuck:
            self._changed.notify_all()

    def _record(self, group: list[tuple[Key, CheckTarget, CheckResult | None]]) -> None:
        outcomes = [(target, key[1], result) for key, target, result in group]
        deadline = time.monotonic() + RETRY_SECONDS
        while True:
            try:
                report, transitions = record_outcomes(outcomes)
                break
            except Exception:
                db.session.rollback()
                if time.monotonic() > deadline or self._stopping:
                    log.exception("recording %d check results failed; they are lost", len(outcomes))
                    report, transitions = None, []
                    break
                log.warning("recording %d check results failed; retrying", len(outcomes), exc_info=True)
                time.sleep(1)
        with self._changed:
            for key, _, _ in group:
                self._in_hand.pop(key, None)
            self._recording = 0
            if report is not None:
                self.recorded += report.recorded
            self._changed.notify_all()
        if report is not None:
            sender(self.app).submit(report.deliveries)
            notify_observers(self.app, outcomes, transitions)

    def close(self, timeout: float = 75) -> None:
        """Take no more checks; record those in hand (waiting up to ``timeout`` seconds), then stop."""
        deadline = time.monotonic() + timeout
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
            while self._in_hand and time.monotonic() < deadline:
                self._changed.wait(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
            if self._in_hand:
                log.warning("%d checks were still running at shutdown; they are not recorded", len(self._in_hand))
                self._in_hand.clear()
            self._changed.notify_all()
        self.process.close()
        self._recorder.join(timeout=max(1.0, deadline - time.monotonic()))
