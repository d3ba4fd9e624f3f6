"""The monitor state machine: check results in, state changes (and incidents) out.

``confirmationCount`` consecutive failures turn a monitor ``down`` and open one incident
with the failing check's cause; the first success after that resolves it and the monitor
is ``up``. Everything happens in the caller's transaction with the monitor rows locked,
and a result for a slot that was already recorded (a replayed job) changes nothing.

This is the engine's hot path, so it is written with Core statements on plain values: a
batch locks its monitors with one ``SELECT``, stores its results with one ``INSERT``,
looks up open incidents only for monitors that are not plainly up, and writes the
monitors' new states with one executemany ``UPDATE``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from aloft.checks import CheckResult
from aloft.engine.statements import CAUSE_LENGTH, among, insert_results, update_monitor_states
from aloft.models import Incident, Monitor, new_id
from aloft.stats.rollups import Counted, add_to_rollups

MONITORS = Monitor.__table__
INCIDENTS = Incident.__table__


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


@dataclass(frozen=True)
class Transition:
    """An incident opened or resolved by a check, with what notifications say of the monitor."""

    kind: Literal["opened", "resolved"]
    incident: IncidentEvent
    monitor_type: str
    #: What the monitor watches (its URL or address); None for passive types.
    monitor_target: str | None


@dataclass(frozen=True)
class Recorded:
    """Whether a result was stored (False: its slot was stored before) and what it changed."""

    stored: bool
    transition: Transition | None = None


@dataclass
class MonitorState:
    """The columns of a locked monitor row the state machine reads and moves on."""

    id: str
    org_id: str
    name: str
    paused: bool
    confirmation_count: int
    status: str
    consecutive_failures: int
    last_checked_at: datetime | None
    type: str
    url: str | None
    interval_seconds: int
    #: Passive monitors: the deadline the monitor awaits (see :mod:`aloft.engine.heartbeats`).
    next_deadline_at: datetime | None = None
    #: Whether the monitor has no first result yet (``first_result_at`` is NULL): a flag, not the time,
    #: because reading a time back costs SQLite microseconds a row on the hot path.
    unrecorded: bool = False
    changed: bool = False
    #: Status and consecutive failures as read: most checks change neither, only ``last_checked_at``.
    read_as: tuple[str, int] = field(init=False)
    #: The monitor's first result, recorded by this batch: the ``first_result_at`` to write.
    first_result_at: datetime | None = None

    def __post_init__(self) -> None:
        self.read_as = (self.status, self.consecutive_failures)


@dataclass
class IncidentRow:
    """An incident the batch opened or resolved, written when the batch is."""

    id: str
    org_id: str
    monitor_id: str
    cause: str
    started_at: datetime
    status: str = "open"
    resolved_at: datetime | None = None
    opened_by_result_id: int | None = None
    opened_by_ping_id: int | None = None
    new: bool = False

    def event(self, monitor_name: str) -> IncidentEvent:
        status: Literal["open", "resolved"] = "resolved" if self.status == "resolved" else "open"
        return IncidentEvent(
            self.id, self.monitor_id, monitor_name, self.org_id, status, self.cause, self.started_at, self.resolved_at
        )


@dataclass
class Batch:
    """The working state of one batch: its locked monitors and the incidents it touches."""

    monitors: dict[str, MonitorState]
    #: Open incidents by monitor id, for the monitors that may need them.
    open_incidents: dict[str, IncidentRow] = field(default_factory=dict)
    #: Every incident the batch opened or resolved, by id.
    touched: dict[str, IncidentRow] = field(default_factory=dict)


def slot_time(slot_ms: int) -> datetime:
    """The slot as a UTC datetime, exact to the millisecond (no float rounding)."""
    return datetime.fromtimestamp(slot_ms // 1000, UTC) + timedelta(milliseconds=slot_ms % 1000)


def lock_monitors(session: Session, monitor_ids: Iterable[str]) -> dict[str, MonitorState]:
    """Lock the monitors' rows for this transaction and read their state.

    On SQLite this must be the transaction's first statement: it takes the write lock
    first (``BEGIN IMMEDIATE``), so nothing read here can change before it is written.
    Rows are locked in id order so concurrent batches cannot deadlock.
    """
    ids = sorted(set(monitor_ids))
    if session.get_bind().dialect.name == "sqlite" and not _sqlite_transaction_open(session):
        session.execute(text("BEGIN IMMEDIATE"))
    if not ids:
        return {}
    columns = [
        _UNRECORDED if name == "unrecorded" else MONITORS.c[name]
        for name in MonitorState.__dataclass_fields__
        if name not in _NOT_COLUMNS
    ]
    # FOR NO KEY UPDATE on PostgreSQL: the lock an UPDATE takes, which leaves the rows
    # free for the foreign-key checks of the results inserted for them.
    locked = select(*columns).where(among(session, MONITORS.c.id, ids)).order_by(MONITORS.c.id)
    rows = session.execute(locked.with_for_update(key_share=True))
    return {row.id: MonitorState(*row) for row in rows}


_NOT_COLUMNS = ("changed", "read_as", "first_result_at")
_UNRECORDED = MONITORS.c.first_result_at.is_(None).label("unrecorded")


def _sqlite_transaction_open(session: Session) -> bool:
    """Whether this SQLite connection is in a transaction; one that has written holds the write lock already."""
    return bool(session.connection().connection.dbapi_connection.in_transaction)


def record(session: Session, monitor_id: str, slot_ms: int, result: CheckResult) -> Recorded:
    """Store one ``result`` for the monitor's slot and move its state on (in a new transaction)."""
    (recorded,) = record_many(session, [(monitor_id, slot_ms, result)])
    return recorded


def record_many(
    session: Session,
    outcomes: Sequence[tuple[str, int, CheckResult]],
    *,
    deadlines: Mapping[str, tuple[datetime, datetime | None, datetime | None]] | None = None,
) -> list[Recorded]:
    """Store each result for its monitor's slot and move the monitors' states on, oldest slot first.

    ``outcomes`` are ``(monitor_id, slot_ms, result)``. This locks the monitors (see
    :func:`lock_monitors`: on SQLite it must start the transaction) and writes everything in
    the session's transaction; the caller commits. Returns one :class:`Recorded` per
    outcome, in the order given; a monitor deleted since it was checked stores nothing.

    ``deadlines`` marks outcomes that are missed deadlines of passive monitors, as
    ``{monitor_id: (stored deadline, next deadline, last ping)}``: such an outcome counts only
    while the monitor still has that deadline stored and that last ping (a ping or another
    scheduler may have moved either on meanwhile; a usual ping moves only the last ping), and
    then the monitor awaits ``next deadline``.
    """
    batch = Batch(lock_monitors(session, (monitor_id for monitor_id, _, _ in outcomes)))
    if deadlines:
        pinged = dict(
            session.execute(
                select(MONITORS.c.id, MONITORS.c.last_ping_at).where(among(session, MONITORS.c.id, deadlines))
            ).all()
        )
        for monitor_id, (deadline, _, last_ping_at) in deadlines.items():
            monitor = batch.monitors.get(monitor_id)
            if monitor is not None and (monitor.next_deadline_at, pinged.get(monitor_id)) != (deadline, last_ping_at):
                del batch.monitors[monitor_id]  # moved on since it was found due: nothing to record
        moved = [
            {"b_id": monitor_id, "b_deadline": deadlines[monitor_id][1]}
            for monitor_id in batch.monitors
            if monitor_id in deadlines
        ]
        if moved:
            session.execute(_DEADLINE_MOVE, moved)
    keys = [(monitor_id, slot_time(slot_ms)) for monitor_id, slot_ms, _ in outcomes]
    present = [index for index, (monitor_id, _) in enumerate(keys) if monitor_id in batch.monitors]
    inserted = insert_results(session, [(*keys[index], outcomes[index][2]) for index in present])
    # Each stored result once (a slot twice in one batch is stored once).
    stored = {keys[index]: outcomes[index][2] for index in reversed(present) if keys[index] in inserted}
    add_to_rollups(
        session,
        [
            Counted(monitor_id, checked_at, result.ok, result.latency_ms, batch.monitors[monitor_id].interval_seconds)
            for (monitor_id, checked_at), result in stored.items()
        ],
    )
    batch.open_incidents = _open_incidents(session, _may_touch_incidents(batch, outcomes, inserted, keys))
    recorded = [Recorded(stored=False)] * len(outcomes)
    for index in sorted(present, key=lambda i: keys[i][1]):
        # pop: the same (monitor, slot) twice in one batch is stored, and applied, once.
        result_id = inserted.pop(keys[index], None)
        if result_id is not None:
            monitor = batch.monitors[keys[index][0]]
            recorded[index] = Recorded(True, _apply(batch, monitor, keys[index][1], outcomes[index][2], result_id))
    _write(session, batch)
    return recorded


def _may_touch_incidents(
    batch: Batch,
    outcomes: Sequence[tuple[str, int, CheckResult]],
    inserted: dict[tuple[str, datetime], int],
    keys: list[tuple[str, datetime]],
) -> set[str]:
    """Monitors whose open incident the batch may open, resolve or need to know of.

    A monitor that is up with no failures and only succeeds has no open incident to
    resolve: the common case costs no incident lookup.
    """
    wanted = set()
    for (monitor_id, _), (_, _, result) in zip(keys, outcomes, strict=True):
        monitor = batch.monitors.get(monitor_id)
        if monitor is not None and (not result.ok or monitor.status != "up" or monitor.consecutive_failures):
            wanted.add(monitor_id)
    return wanted & {monitor_id for monitor_id, _ in inserted}


def _open_incidents(session: Session, monitor_ids: Iterable[str]) -> dict[str, IncidentRow]:
    ids = sorted(monitor_ids)
    if not ids:
        return {}
    columns = (INCIDENTS.c.id, INCIDENTS.c.org_id, INCIDENTS.c.monitor_id, INCIDENTS.c.cause, INCIDENTS.c.started_at)
    rows = session.execute(
        select(*columns).where(among(session, INCIDENTS.c.monitor_id, ids), INCIDENTS.c.status == "open")
    )
    return {row.monitor_id: IncidentRow(*row) for row in rows}


def _apply(
    batch: Batch, monitor: MonitorState, checked_at: datetime, result: CheckResult, result_id: int
) -> Transition | None:
    if monitor.last_checked_at is not None and checked_at <= monitor.last_checked_at:
        return None  # an older slot finishing late: history, not news
    monitor.last_checked_at = checked_at
    monitor.changed = True
    if monitor.paused:
        return None
    if monitor.unrecorded and monitor.first_result_at is None:
        monitor.first_result_at = checked_at
    if result.ok:
        return _succeeded(batch, monitor, checked_at)
    return _failed(batch, monitor, checked_at, result, result_id)


def _succeeded(batch: Batch, monitor: MonitorState, checked_at: datetime) -> Transition | None:
    monitor.consecutive_failures = 0
    monitor.status = "up"
    incident = batch.open_incidents.pop(monitor.id, None)
    if incident is None:
        return None
    incident.status = "resolved"
    incident.resolved_at = max(checked_at, incident.started_at)
    batch.touched[incident.id] = incident
    return Transition("resolved", incident.event(monitor.name), monitor.type, monitor.url)


def _failed(
    batch: Batch, monitor: MonitorState, checked_at: datetime, result: CheckResult, result_id: int
) -> Transition | None:
    confirmed_before = monitor.status == "down"
    monitor.consecutive_failures += 1
    if monitor.consecutive_failures < monitor.confirmation_count:
        return None
    monitor.status = "down"
    # Down already: the outage's incident is open, or someone resolved it by hand while the
    # monitor stays down. Either way this streak has had its incident; the next one gets a new one.
    if confirmed_before or monitor.id in batch.open_incidents:
        return None
    incident = IncidentRow(
        id=new_id(),
        org_id=monitor.org_id,
        monitor_id=monitor.id,
        cause=(result.cause or "Check failed")[:CAUSE_LENGTH],
        started_at=checked_at,
        opened_by_result_id=result_id,
        opened_by_ping_id=result.details.get("pingId") if result.details else None,
        new=True,
    )
    batch.open_incidents[monitor.id] = batch.touched[incident.id] = incident
    return Transition("opened", incident.event(monitor.name), monitor.type, monitor.url)


def _write(session: Session, batch: Batch) -> None:
    """Write the monitors' new states and the incidents the batch opened or resolved."""
    update_monitor_states(
        session,
        [
            (
                monitor.id,
                monitor.status,
                monitor.consecutive_failures,
                monitor.last_checked_at,
                (monitor.status, monitor.consecutive_failures) != monitor.read_as,
            )
            for monitor in batch.monitors.values()
            if monitor.changed
        ],
    )
    firsts = [
        {"b_id": monitor.id, "b_first": monitor.first_result_at}
        for monitor in batch.monitors.values()
        if monitor.first_result_at is not None
    ]
    if firsts:
        session.execute(_FIRST_RESULT, firsts)
    opened = [incident for incident in batch.touched.values() if incident.new]
    if opened:
        session.execute(
            insert(INCIDENTS),
            [
                {
                    "id": incident.id,
                    "org_id": incident.org_id,
                    "monitor_id": incident.monitor_id,
                    "status": incident.status,
                    "cause": incident.cause,
                    "started_at": incident.started_at,
                    "resolved_at": incident.resolved_at,
                    "opened_by_result_id": incident.opened_by_result_id,
                    "opened_by_ping_id": incident.opened_by_ping_id,
                }
                for incident in opened
            ],
        )
    resolved = [incident for incident in batch.touched.values() if not incident.new]
    if resolved:
        session.execute(
            _INCIDENT_RESOLVE, [{"b_id": incident.id, "b_resolved": incident.resolved_at} for incident in resolved]
        )


_DEADLINE_MOVE = (
    update(MONITORS).where(MONITORS.c.id == bindparam("b_id")).values(next_deadline_at=bindparam("b_deadline"))
)

_FIRST_RESULT = (
    update(MONITORS)
    .where(MONITORS.c.id == bindparam("b_id"), MONITORS.c.first_result_at.is_(None))
    .values(first_result_at=bindparam("b_first"))
)

_INCIDENT_RESOLVE = (
    update(INCIDENTS)
    .where(INCIDENTS.c.id == bindparam("b_id"), INCIDENTS.c.status == "open")
    .values(status="resolved", resolved_at=bindparam("b_resolved"))
)
