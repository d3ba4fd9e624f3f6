"""Checks as jobs: the job function both executors run, and running a batch here and now.

:func:`run_checks` is the job: RQ workers run it for each batch taken from Redis, and the
embedded executor calls it for each batch the scheduler claims. It hands the checks to
this process's :class:`~aloft.engine.runner.Runner`, which runs them in a check process and
records each as it finishes, so a job never waits on the slowest host in its batch.

:func:`run_batch` runs a batch in this process and returns once it is recorded: what
tests, plugin authors and one-off tools want. Both record through
:func:`record_outcomes`: results, the monitors' new states and any incidents in one
transaction, with the monitor rows locked; replaying a batch writes nothing twice (see
:mod:`aloft.engine.state`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from flask import Flask, current_app, has_app_context
from sqlalchemy import select

from aloft.channels import Notification
from aloft.checks import CheckResult, CheckTarget, CheckType
from aloft.engine.check_process import CheckThreads, Key
from aloft.engine.state import Transition, record_many
from aloft.engine.statements import among, one_writer
from aloft.extensions import db
from aloft.models import Monitor
from aloft.notify.dispatch import sender
from aloft.notify.outbox import SWEEP_AFTER, incident_notification, write_deliveries

if TYPE_CHECKING:
    from aloft.engine.runner import Runner

log = logging.getLogger(__name__)

#: Checks :func:`run_batch` runs at once in this process.
CHECK_THREADS = 64

Outcome = tuple[CheckTarget, int, CheckResult | None]


@dataclass
class BatchReport:
    """What a batch did: results recorded, replays skipped, incidents opened and resolved."""

    recorded: int = 0
    skipped: int = 0
    opened: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    #: Deliveries (outbox rows) written for the incidents opened and resolved.
    deliveries: list[str] = field(default_factory=list)


@cache
def check_threads() -> CheckThreads:
    """The threads :func:`run_batch` runs checks on, each check held to its deadline as the check process does."""
    return CheckThreads(CHECK_THREADS)


# A forked child has none of its parent's threads: it starts its own.
os.register_at_fork(after_in_child=check_threads.cache_clear)


@cache
def process_app() -> Flask:
    """The app of a worker process that runs jobs outside any app context."""
    from aloft.app import create_app

    return create_app()


_runner: Runner | None = None
_runner_lock = threading.Lock()


def start_runner(app: Flask) -> Runner:
    """Start this process's check runner (and its check process); ``aloft worker`` does so at startup."""
    from aloft.engine.runner import Runner

    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = Runner(app).start()
        return _runner


def stop_runner() -> None:
    """Record the checks in hand and stop this process's runner, if it has one."""
    global _runner
    with _runner_lock:
        runner, _runner = _runner, None
    if runner is not None:
        runner.close()


def run_checks(claims: list[tuple[str, int]]) -> int:
    """The job: hand the checks ``claims`` name (``(monitor_id, slot_ms)`` pairs) to this process's runner.

    Returns how many checks were handed over (paused and deleted monitors are left out);
    each is recorded when it finishes.
    """
    if has_app_context():
        return start_runner(current_app._get_current_object()).submit(claims)  # type: ignore[attr-defined]
    app = process_app()
    with app.app_context():
        return start_runner(app).submit(claims)


def run_batch(claims: list[tuple[str, int]]) -> BatchReport:
    """Run the checks ``claims`` name (``(monitor_id, slot_ms)`` pairs) in this process and record them."""
    if has_app_context():
        return _run_batch(current_app, claims)
    app = process_app()
    with app.app_context():
        return _run_batch(app, claims)


def _run_batch(app: Flask, claims: list[tuple[str, int]]) -> BatchReport:
    check_types = app.extensions["aloft.plugins"].check_types
    wanted = dict(claims)
    try:
        targets = [(monitor_target, wanted[monitor_target.id]) for monitor_target in load_targets(wanted)]
        db.session.rollback()  # hold no transaction open while checks wait on the network
        work = [((monitor_target.id, slot), monitor_target) for monitor_target, slot in targets]
        results = _run_here(work, check_types)
        outcomes = [(monitor_target, slot, results[monitor_target.id, slot]) for monitor_target, slot in targets]
        report, transitions = record_outcomes(outcomes)
        report.skipped += len(wanted) - len(targets)
    except BaseException:
        # A worker runs job after job in one app context: leave its session usable.
        db.session.rollback()
        raise
    sender(app).submit(report.deliveries)
    notify_observers(app, outcomes, transitions)
    return report


def _run_here(
    work: list[tuple[Key, CheckTarget]], check_types: dict[str, type[CheckType]]
) -> dict[Key, CheckResult | None]:
    """Run checks on :func:`check_threads` and wait for every outcome (each is over by its deadline and grace)."""
    results: dict[Key, CheckResult | None] = {}
    reported = threading.Condition()

    def report(key: Key, result: CheckResult | None) -> None:
        with reported:
            results[key] = result
            reported.notify()

    for key, monitor_target in work:
        check_threads().submit(key, check_types.get(monitor_target.type), monitor_target, report)
    with reported:
        reported.wait_for(lambda: len(results) == len(work))
    return results


def notify_observers(app: Flask, outcomes: Sequence[Outcome], transitions: Sequence[Transition]) -> None:
    """Tell observer plugins about recorded checks and the incidents they opened or resolved."""
    hook = app.extensions["aloft.plugins"].hook
    for monitor_target, _, result in outcomes:
        if result is not None:
            _observe(hook.check_completed, monitor=monitor_target, result=result)
    for transition in transitions:
        observer = hook.incident_opened if transition.kind == "opened" else hook.incident_resolved
        _observe(observer, incident=transition.incident)


def _observe(hook: Callable[..., object], **kwargs: object) -> None:
    """Call an observer hook; the batch is committed, so a plugin that raises is only logged."""
    try:
        hook(**kwargs)
    except Exception:
        log.exception("an observer plugin raised in %s", getattr(hook, "name", hook))


#: What a check sees of a monitor, in :class:`CheckTarget`'s field order, read straight from the row.
TARGET_COLUMNS = (
    Monitor.id,
    Monitor.name,
    Monitor.type,
    Monitor.url,
    Monitor.timeout_seconds,
    Monitor.interval_seconds,
    Monitor.settings,
    Monitor.ping_token_issued_at,
    Monitor.last_ping_at,
    Monitor.last_ping_kind,
)


def load_targets(monitor_ids: Iterable[str]) -> list[CheckTarget]:
    """The monitors to check, as plugins see them; paused ones are left out.

    A monitor paused since it was claimed is not checked: a person asked for no more checks.
    """
    rows = db.session.execute(
        select(*TARGET_COLUMNS).where(among(db.session, Monitor.id, monitor_ids), Monitor.paused.is_(False))
    )
    targets = [CheckTarget(*row) for row in rows]
    return [target if target.settings is not None else replace(target, settings={}) for target in targets]


def record_outcomes(outcomes: Sequence[Outcome]) -> tuple[BatchReport, list[Transition]]:
    """Write every result and state change of a batch in one transaction."""
    checked = [(monitor_target.id, slot, result) for monitor_target, slot, result in outcomes if result is not None]
    with one_writer(db.session):
        report, transitions = record_results(checked)
    report.skipped += len(outcomes) - len(checked)
    return report, transitions


def record_results(
    checked: Sequence[tuple[str, int, CheckResult]],
    *,
    deadlines: Mapping[str, tuple[datetime, datetime | None, datetime | None]] | None = None,
) -> tuple[BatchReport, list[Transition]]:
    """Write ``(monitor_id, slot_ms, result)`` results, the state changes and their deliveries, and commit.

    The caller holds :func:`~aloft.engine.statements.one_writer`. ``deadlines`` marks missed
    deadlines of passive monitors (see :func:`aloft.engine.state.record_many`).
    """
    report = BatchReport()
    transitions: list[Transition] = []
    for recorded in record_many(db.session, checked, deadlines=deadlines):
        if not recorded.stored:
            report.skipped += 1
            continue
        report.recorded += 1
        transition = recorded.transition
        if transition is not None:
            transitions.append(transition)
            (report.opened if transition.kind == "opened" else report.resolved).append(transition.incident.id)
    report.deliveries = write_deliveries(
        db.session,
        [_notification(transition) for transition in transitions],
        org_ids={transition.incident.monitor_id: transition.incident.org_id for transition in transitions},
        swept_after=SWEEP_AFTER,
    )
    db.session.commit()
    return report, transitions


def _notification(transition: Transition) -> Notification:
    incident = transition.incident
    return incident_notification(
        transition.kind,
        at=incident.resolved_at if transition.kind == "resolved" and incident.resolved_at else incident.started_at,
        monitor=(incident.monitor_id, incident.monitor_name, transition.monitor_type, transition.monitor_target),
        base_url=current_app.extensions["aloft.settings"].base_url,
        incident_id=incident.id,
        cause=incident.cause,
        started_at=incident.started_at,
        resolved_at=incident.resolved_at,
    )
