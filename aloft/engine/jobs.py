"""Running a batch of checks: the one job function RQ workers and the embedded executor share.

A batch's checks run concurrently on a process-wide thread pool; their results, the
monitors' new states and any incidents are then written in one transaction with the
monitor rows locked. Replaying a batch writes nothing twice (see :mod:`aloft.engine.state`).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache

from flask import Flask, current_app, has_app_context
from sqlalchemy import select

from aloft.checks import CheckResult, CheckTarget, CheckType
from aloft.engine.state import Transition, record
from aloft.extensions import db
from aloft.models import Monitor

log = logging.getLogger(__name__)

#: Checks of one process running at once (they mostly wait on the network).
CHECK_THREADS = 64


@dataclass
class BatchReport:
    """What a batch did: results recorded, replays skipped, incidents opened and resolved."""

    recorded: int = 0
    skipped: int = 0
    opened: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)


@cache
def check_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=CHECK_THREADS, thread_name_prefix="aloft-check")


@cache
def process_app() -> Flask:
    """The app of a worker process that runs jobs outside any app context."""
    from aloft.app import create_app

    return create_app()


def run_batch(claims: list[tuple[str, int]]) -> BatchReport:
    """Run the checks ``claims`` name (``(monitor_id, slot_ms)`` pairs) and record them."""
    if has_app_context():
        return _run_batch(current_app, claims)
    app = process_app()
    with app.app_context():
        return _run_batch(app, claims)


def _run_batch(app: Flask, claims: list[tuple[str, int]]) -> BatchReport:
    plugins = app.extensions["aloft.plugins"]
    wanted = dict(claims)
    monitors = db.session.scalars(select(Monitor).where(Monitor.id.in_(wanted))).all()
    targets = [(target(monitor), wanted[monitor.id]) for monitor in monitors]
    db.session.rollback()  # hold no transaction open while checks wait on the network
    futures = [
        (
            monitor_target,
            slot,
            check_pool().submit(run_check, plugins.check_types.get(monitor_target.type), monitor_target),
        )
        for monitor_target, slot in targets
    ]
    outcomes = [(monitor_target, slot, future.result()) for monitor_target, slot, future in futures]
    report, transitions = record_outcomes(outcomes)
    hook = plugins.hook
    for monitor_target, _, result in outcomes:
        if result is not None:
            hook.check_completed(monitor=monitor_target, result=result)
    for transition in transitions:
        if transition.kind == "opened":
            hook.incident_opened(incident=transition.incident)
        else:
            hook.incident_resolved(incident=transition.incident)
    return report


def target(monitor: Monitor) -> CheckTarget:
    return CheckTarget(
        id=monitor.id,
        name=monitor.name,
        type=monitor.type,
        url=monitor.url,
        timeout_seconds=monitor.timeout_seconds,
        interval_seconds=monitor.interval_seconds,
        settings=dict(monitor.settings or {}),
        pings_expected_since=monitor.ping_token_issued_at,
        last_ping_at=monitor.last_ping_at,
        last_ping_kind=monitor.last_ping_kind,
    )


def run_check(check_type: type[CheckType] | None, monitor: CheckTarget) -> CheckResult | None:
    """Run one check; a crashing plugin is a failed check with a cause that says so."""
    if check_type is None:
        log.warning("monitor %s: check type %r is not installed; not checked", monitor.id, monitor.type)
        return None
    started = time.perf_counter()
    try:
        return check_type().run(monitor)
    except Exception as exc:
        log.exception("check type %r raised on monitor %s", monitor.type, monitor.id)
        elapsed = (time.perf_counter() - started) * 1000
        return CheckResult(ok=False, latency_ms=elapsed, cause=f"Internal check error: {type(exc).__name__}")


def record_outcomes(
    outcomes: list[tuple[CheckTarget, int, CheckResult | None]],
) -> tuple[BatchReport, list[Transition]]:
    """Write every result and state change of a batch in one transaction."""
    report = BatchReport()
    transitions: list[Transition] = []
    ids = sorted({monitor_target.id for monitor_target, _, result in outcomes if result is not None})
    # Lock in id order so concurrent batches touching the same monitors cannot deadlock.
    locked = {
        monitor.id: monitor
        for monitor in db.session.scalars(
            select(Monitor).where(Monitor.id.in_(ids)).order_by(Monitor.id).with_for_update()
        )
    }
    for monitor_target, slot, result in sorted(outcomes, key=lambda outcome: outcome[1]):
        monitor = locked.get(monitor_target.id)
        if result is None or monitor is None:
            report.skipped += 1
            continue
        outcome = record(db.session, monitor, slot, result)
        if not outcome.stored:
            report.skipped += 1
            continue
        report.recorded += 1
        transition = outcome.transition
        if transition is not None:
            transitions.append(transition)
            (report.opened if transition.kind == "opened" else report.resolved).append(transition.incident.id)
    db.session.commit()
    return report, transitions
