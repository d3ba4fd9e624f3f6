"""Running a batch of checks: the one job function RQ workers and the embedded executor share.

A batch's checks run concurrently on a process-wide thread pool; their results, the
monitors' new states and any incidents are then written in one transaction with the
monitor rows locked. Replaying a batch writes nothing twice (see :mod:`aloft.engine.state`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cache

from flask import Flask, current_app, has_app_context
from sqlalchemy import select

from aloft.checks import CheckResult, CheckTarget, CheckType
from aloft.engine.state import Transition, record_many
from aloft.extensions import db
from aloft.models import Monitor

log = logging.getLogger(__name__)

#: Checks of one process running at once (they mostly wait on the network).
CHECK_THREADS = 64

Outcome = tuple[CheckTarget, int, CheckResult | None]


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
    try:
        targets = [(monitor_target, wanted[monitor_target.id]) for monitor_target in load_targets(wanted)]
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
        report.skipped += len(wanted) - len(targets)
    except BaseException:
        # A worker runs job after job in one app context: leave its session usable.
        db.session.rollback()
        raise
    hook = plugins.hook
    for monitor_target, _, result in outcomes:
        if result is not None:
            _observe(hook.check_completed, monitor=monitor_target, result=result)
    for transition in transitions:
        observer = hook.incident_opened if transition.kind == "opened" else hook.incident_resolved
        _observe(observer, incident=transition.incident)
    return report


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
        select(*TARGET_COLUMNS).where(Monitor.id.in_(list(monitor_ids)), Monitor.paused.is_(False))
    )
    targets = [CheckTarget(*row) for row in rows]
    return [target if target.settings is not None else replace(target, settings={}) for target in targets]


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


def record_outcomes(outcomes: list[Outcome]) -> tuple[BatchReport, list[Transition]]:
    """Write every result and state change of a batch in one transaction."""
    report = BatchReport()
    checked = [(monitor_target.id, slot, result) for monitor_target, slot, result in outcomes if result is not None]
    report.skipped = len(outcomes) - len(checked)
    transitions: list[Transition] = []
    for recorded in record_many(db.session, checked):
        if not recorded.stored:
            report.skipped += 1
            continue
        report.recorded += 1
        transition = recorded.transition
        if transition is not None:
            transitions.append(transition)
            (report.opened if transition.kind == "opened" else report.resolved).append(transition.incident.id)
    db.session.commit()
    return report, transitions
