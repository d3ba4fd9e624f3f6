"""Monitors remember when their first result was recorded: a heartbeat's uptime counts from it.

A passive monitor's uptime is weighed by time (see ``aloft.stats.outages``), and the time
before its first ping or missed deadline, while it was ``pending``, is nobody's. For
monitors that exist already the first result is estimated from what is kept: the earliest
raw result or incident, or, when older days' results were pruned, the earliest hourly (else
daily) rollup's start; never before the monitor's creation.

Revision ID: 0014
Revises: 0013
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

monitors = sa.table(
    "monitors",
    sa.column("id", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("first_result_at", sa.DateTime(timezone=True)),
)
check_results = sa.table("check_results", sa.column("monitor_id", sa.String), sa.column("checked_at", sa.DateTime))
incidents = sa.table("incidents", sa.column("monitor_id", sa.String), sa.column("started_at", sa.DateTime))
rollups = sa.table(
    "rollups",
    sa.column("monitor_id", sa.String),
    sa.column("period", sa.String),
    sa.column("bucket_start", sa.DateTime),
)


def restore_state_version_triggers():
    """A batch migration rebuilds SQLite's monitors table, which drops its triggers: add 0003's back."""
    if op.get_bind().dialect.name != "sqlite":
        return
    state_version = op.get_context().script.get_revision("0003").module
    for name, body in state_version.sqlite_triggers():
        if name.startswith("monitors_"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
            op.execute(f"CREATE TRIGGER {name} {body}")


def aware(moment):
    if moment is None:
        return None
    if isinstance(moment, str):  # SQLite without a declared type hands back text
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def earliest(connection, column, *where):
    table = column.table
    query = sa.select(table.c.monitor_id, sa.func.min(column)).where(*where).group_by(table.c.monitor_id)
    return {monitor_id: aware(moment) for monitor_id, moment in connection.execute(query)}


def first_result(created_at, result, incident, hour, day):
    known = [moment for moment in (result, incident) if moment is not None]
    first = min(known) if known else None
    # Results are pruned after days, rollups much later: an earlier rollup means older results are gone.
    older = hour if hour is not None and (day is None or hour < day + timedelta(days=1)) else day
    if older is not None and (first is None or older < first.replace(hour=0, minute=0, second=0, microsecond=0)):
        first = older
    if first is None:
        return None
    return max(first, created_at) if created_at is not None else first


def upgrade():
    op.add_column("monitors", sa.Column("first_result_at", sa.DateTime(timezone=True), nullable=True))
    connection = op.get_bind()
    results = earliest(connection, check_results.c.checked_at)
    opened = earliest(connection, incidents.c.started_at)
    hours = earliest(connection, rollups.c.bucket_start, rollups.c.period == "hour")
    days = earliest(connection, rollups.c.bucket_start, rollups.c.period == "day")
    found = []
    for monitor_id, created_at in connection.execute(sa.select(monitors.c.id, monitors.c.created_at)):
        moment = first_result(
            aware(created_at),
            results.get(monitor_id),
            opened.get(monitor_id),
            hours.get(monitor_id),
            days.get(monitor_id),
        )
        if moment is not None:
            stored = moment.replace(tzinfo=None) if connection.dialect.name == "sqlite" else moment
            found.append({"b_id": monitor_id, "b_first": stored})
    if found:
        connection.execute(
            monitors.update()
            .where(monitors.c.id == sa.bindparam("b_id"))
            .values(first_result_at=sa.bindparam("b_first")),
            found,
        )


def downgrade():
    with op.batch_alter_table("monitors", schema=None) as batch_op:
        batch_op.drop_column("first_result_at")
    restore_state_version_triggers()
