"""The monitor state machine: a check result in, a state change (and incident) out.

``confirmationCount`` consecutive failures turn a monitor ``down`` and open one incident
with the failing check's cause; the first success after that resolves it and the monitor
is ``up``. Everything happens in the caller's transaction with the monitor row locked,
and a result for a slot that was already recorded (a replayed job) changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from aloft.checks import CheckResult
from aloft.models import CheckResult as CheckResultRow
from aloft.models import Incident, Monitor

CAUSE_LENGTH = CheckResultRow.__table__.c.cause.type.length


@dataclass(frozen=True)
class Transition:
    """An incident opened or resolved by a check."""

    kind: Literal["opened", "resolved"]
    incident: Incident


def slot_time(slot_ms: int) -> datetime:
    return datetime.fromtimestamp(slot_ms / 1000, UTC)


def insert_result(session: Session, monitor_id: str, checked_at: datetime, result: CheckResult) -> int | None:
    """Store a result once per (monitor, slot); None when that slot is already stored."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(CheckResultRow)
        .values(
            monitor_id=monitor_id,
            checked_at=checked_at,
            ok=result.ok,
            latency_ms=result.latency_ms,
            cause=(result.cause or None) and result.cause[:CAUSE_LENGTH],
            details=result.details or None,
        )
        .on_conflict_do_nothing(index_elements=["monitor_id", "checked_at"])
        .returning(CheckResultRow.id)
    )
    return session.scalar(statement)


@dataclass(frozen=True)
class Recorded:
    """Whether a result was stored (False: its slot was stored before) and what it changed."""

    stored: bool
    transition: Transition | None = None


def record(session: Session, monitor: Monitor, slot_ms: int, result: CheckResult) -> Recorded:
    """Store ``result`` for ``monitor``'s slot and move the monitor's state on.

    ``monitor`` must be locked by the caller (``SELECT … FOR UPDATE``) so that two
    results for one monitor are applied one after the other.
    """
    checked_at = slot_time(slot_ms)
    result_id = insert_result(session, monitor.id, checked_at, result)
    if result_id is None:
        return Recorded(stored=False)  # this slot was recorded before: a replay changes nothing
    if monitor.last_checked_at is not None and checked_at <= monitor.last_checked_at:
        return Recorded(stored=True)  # an older slot finishing late: history, not news
    monitor.last_checked_at = checked_at
    if monitor.paused:
        return Recorded(stored=True)
    if result.ok:
        return Recorded(True, _succeeded(session, monitor, checked_at))
    return Recorded(True, _failed(session, monitor, checked_at, result, result_id))


def _succeeded(session: Session, monitor: Monitor, checked_at: datetime) -> Transition | None:
    monitor.consecutive_failures = 0
    monitor.status = "up"
    incident = open_incident(session, monitor.id)
    if incident is None:
        return None
    incident.status = "resolved"
    incident.resolved_at = max(checked_at, incident.started_at)
    return Transition("resolved", incident)


def _failed(
    session: Session, monitor: Monitor, checked_at: datetime, result: CheckResult, result_id: int
) -> Transition | None:
    monitor.consecutive_failures += 1
    if monitor.consecutive_failures < monitor.confirmation_count:
        return None
    monitor.status = "down"
    if open_incident(session, monitor.id) is not None:
        return None
    incident = Incident(
        org_id=monitor.org_id,
        monitor_id=monitor.id,
        cause=(result.cause or "Check failed")[:CAUSE_LENGTH],
        started_at=checked_at,
        opened_by_result_id=result_id,
    )
    session.add(incident)
    session.flush()
    return Transition("opened", incident)


def open_incident(session: Session, monitor_id: str) -> Incident | None:
    return session.scalar(select(Incident).where(Incident.monitor_id == monitor_id, Incident.status == "open"))
