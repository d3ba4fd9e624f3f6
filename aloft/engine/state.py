"""The monitor state machine: check results in, state changes (and incidents) out.

``confirmationCount`` consecutive failures turn a monitor ``down`` and open one incident
with the failing check's cause; the first success after that resolves it and the monitor
is ``up``. Everything happens in the caller's transaction with the monitor rows locked,
and a result for a slot that was already recorded (a replayed job) changes nothing.

A batch's results go in with one ``INSERT`` and its open incidents come back with one
``SELECT``: the per-check cost of recording stays small next to the check itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from aloft.checks import CheckResult
from aloft.models import CheckResult as CheckResultRow
from aloft.models import Incident, Monitor

CAUSE_LENGTH = CheckResultRow.__table__.c.cause.type.length


@dataclass(frozen=True)
class IncidentEvent:
    """What observers are told about an incident that opened or resolved: plain values, no database object.

    Times are timezone-aware UTC; ``resolved_at`` is None while the incident is open.
    """

    id: str
    monitor_id: str
    monitor_name: str
    org_id: str
    status: Literal["open", "resolved"]
    cause: str
    started_at: datetime
    resolved_at: datetime | None

    @classmethod
    def of(cls, incident: Incident, monitor: Monitor) -> IncidentEvent:
        return cls(
            id=incident.id,
            monitor_id=monitor.id,
            monitor_name=monitor.name,
            org_id=incident.org_id,
            status="resolved" if incident.status == "resolved" else "open",
            cause=incident.cause,
            started_at=incident.started_at,
            resolved_at=incident.resolved_at,
        )


@dataclass(frozen=True)
class Transition:
    """An incident opened or resolved by a check."""

    kind: Literal["opened", "resolved"]
    incident: IncidentEvent


@dataclass(frozen=True)
class Recorded:
    """Whether a result was stored (False: its slot was stored before) and what it changed."""

    stored: bool
    transition: Transition | None = None


def slot_time(slot_ms: int) -> datetime:
    """The slot as a UTC datetime, exact to the millisecond (no float rounding)."""
    return datetime.fromtimestamp(slot_ms // 1000, UTC) + timedelta(milliseconds=slot_ms % 1000)


def insert_results(
    session: Session, rows: Sequence[tuple[str, datetime, CheckResult]]
) -> dict[tuple[str, datetime], int]:
    """Store results once per (monitor, slot); returns the ids of the rows actually inserted.

    A slot stored before (a replayed job) is skipped by the unique index, not raised on.
    One statement, compiled once per process, takes every row ("insertmanyvalues").
    """
    if not rows:
        return {}
    table = CheckResultRow.__table__
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(table)
        .on_conflict_do_nothing(index_elements=["monitor_id", "checked_at"])
        .returning(table.c.id, table.c.monitor_id, table.c.checked_at)
    )
    inserted = session.execute(statement, [_row(*row) for row in rows])
    return {(monitor_id, checked_at): row_id for row_id, monitor_id, checked_at in inserted}


def _row(monitor_id: str, checked_at: datetime, result: CheckResult) -> dict[str, Any]:
    return {
        "monitor_id": monitor_id,
        "checked_at": checked_at,
        "ok": result.ok,
        "latency_ms": result.latency_ms,
        "cause": (result.cause or None) and result.cause[:CAUSE_LENGTH],
        "details": result.details or None,
    }


def record(session: Session, monitor: Monitor, slot_ms: int, result: CheckResult) -> Recorded:
    """Store one ``result`` for ``monitor``'s slot and move the monitor's state on."""
    (recorded,) = record_many(session, [(monitor, slot_ms, result)])
    return recorded


def record_many(session: Session, outcomes: Sequence[tuple[Monitor, int, CheckResult]]) -> list[Recorded]:
    """Store each result for its monitor's slot and move the monitors' states on, oldest slot first.

    The monitors must be locked by the caller (``SELECT … FOR UPDATE``) so that results
    for one monitor from concurrent batches are applied one after the other. Returns one
    :class:`Recorded` per outcome, in the order given.
    """
    keys = [(monitor.id, slot_time(slot_ms)) for monitor, slot_ms, _ in outcomes]
    inserted = insert_results(session, [(*key, result) for key, (_, _, result) in zip(keys, outcomes, strict=True)])
    open_incidents = _open_incidents(session, {monitor_id for monitor_id, _ in inserted})
    recorded: list[Recorded | None] = [None] * len(outcomes)
    for index in sorted(range(len(outcomes)), key=lambda i: keys[i][1]):
        monitor, _, result = outcomes[index]
        # pop: the same (monitor, slot) twice in one batch is stored, and applied, once.
        result_id = inserted.pop(keys[index], None)
        if result_id is None:
            recorded[index] = Recorded(stored=False)  # this slot was recorded before: a replay changes nothing
        else:
            recorded[index] = Recorded(
                True, _apply(session, monitor, keys[index][1], result, result_id, open_incidents)
            )
    return [outcome for outcome in recorded if outcome is not None]


def _open_incidents(session: Session, monitor_ids: Iterable[str]) -> dict[str, Incident]:
    ids = sorted(monitor_ids)
    if not ids:
        return {}
    found = session.scalars(select(Incident).where(Incident.monitor_id.in_(ids), Incident.status == "open"))
    return {incident.monitor_id: incident for incident in found}


def _apply(
    session: Session,
    monitor: Monitor,
    checked_at: datetime,
    result: CheckResult,
    result_id: int,
    open_incidents: dict[str, Incident],
) -> Transition | None:
    if monitor.last_checked_at is not None and checked_at <= monitor.last_checked_at:
        return None  # an older slot finishing late: history, not news
    monitor.last_checked_at = checked_at
    if monitor.paused:
        return None
    if result.ok:
        return _succeeded(monitor, checked_at, open_incidents)
    return _failed(session, monitor, checked_at, result, result_id, open_incidents)


def _succeeded(monitor: Monitor, checked_at: datetime, open_incidents: dict[str, Incident]) -> Transition | None:
    monitor.consecutive_failures = 0
    monitor.status = "up"
    incident = open_incidents.pop(monitor.id, None)
    if incident is None:
        return None
    incident.status = "resolved"
    incident.resolved_at = max(checked_at, incident.started_at)
    return Transition("resolved", IncidentEvent.of(incident, monitor))


def _failed(
    session: Session,
    monitor: Monitor,
    checked_at: datetime,
    result: CheckResult,
    result_id: int,
    open_incidents: dict[str, Incident],
) -> Transition | None:
    monitor.consecutive_failures += 1
    if monitor.consecutive_failures < monitor.confirmation_count:
        return None
    monitor.status = "down"
    if monitor.id in open_incidents:
        return None
    incident = Incident(
        org_id=monitor.org_id,
        monitor_id=monitor.id,
        cause=(result.cause or "Check failed")[:CAUSE_LENGTH],
        started_at=checked_at,
        opened_by_result_id=result_id,
    )
    session.add(incident)
    # Flush now: the unique index on open incidents then stops a duplicate here, in this batch.
    session.flush()
    open_incidents[monitor.id] = incident
    return Transition("opened", IncidentEvent.of(incident, monitor))
