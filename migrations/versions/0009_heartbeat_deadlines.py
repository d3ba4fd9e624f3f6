"""Heartbeats judged at deadlines: a stored, indexed next deadline per passive monitor; runs, exit statuses
and whole bodies (10 KB) on pings; incidents that name the ping that opened them.

Passive monitors are no longer looked at on the grid, and the grid reads an index of the
monitors that reach out (``ix_monitors_grid``), so passive ones cost its ticks nothing.
Each passive monitor gets its next deadline here, from its newest ping (or its token's
issue when never pinged) plus its interval and grace; the scheduler then finds missed
deadlines with an indexed query.

Revision ID: 0009
Revises: 0008
"""

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

DEFAULT_GRACE_SECONDS = 60

monitors = sa.table(
    "monitors",
    sa.column("id", sa.String),
    sa.column("paused", sa.Boolean),
    sa.column("interval_seconds", sa.Integer),
    sa.column("settings", sa.JSON),
    sa.column("ping_token", sa.String),
    sa.column("ping_token_issued_at", sa.DateTime(timezone=True)),
    sa.column("last_ping_at", sa.DateTime(timezone=True)),
    sa.column("next_deadline_at", sa.DateTime(timezone=True)),
)


def restore_state_version_triggers():
    """A batch migration rebuilds SQLite's incidents and monitors tables, dropping their triggers: add 0003's back."""
    if op.get_bind().dialect.name != "sqlite":
        return
    state_version = op.get_context().script.get_revision("0003").module
    for name, body in state_version.sqlite_triggers():
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"CREATE TRIGGER {name} {body}")


def upgrade():
    ResultId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    with op.batch_alter_table("monitors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("next_deadline_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_monitors_next_deadline", ["next_deadline_at"], unique=False)
        batch_op.create_index(
            "ix_monitors_grid",
            ["interval_seconds", "spread_key", "id"],
            unique=False,
            sqlite_where=sa.text("paused IS 0 AND ping_token IS NULL"),
            postgresql_where=sa.text("paused IS false AND ping_token IS NULL"),
        )
    with op.batch_alter_table("pings", schema=None) as batch_op:
        batch_op.alter_column("body", existing_type=sa.String(length=1000), type_=sa.Text(), existing_nullable=True)
        batch_op.add_column(sa.Column("body_truncated", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("exit_status", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("duration_ms", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rid", sa.String(length=64), nullable=True))
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opened_by_ping_id", ResultId, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_incidents_opened_by_ping_id_pings"),
            "pings",
            ["opened_by_ping_id"],
            ["id"],
            ondelete="SET NULL",
        )
    restore_state_version_triggers()
    set_first_deadlines()


def set_first_deadlines():
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            monitors.c.id,
            monitors.c.interval_seconds,
            monitors.c.settings,
            monitors.c.ping_token_issued_at,
            monitors.c.last_ping_at,
        ).where(monitors.c.ping_token.is_not(None), monitors.c.paused.is_(False))
    ).all()
    for monitor_id, interval, settings, issued_at, last_ping_at in rows:
        if isinstance(settings, str):
            settings = json.loads(settings)
        grace = (settings or {}).get("graceSeconds", DEFAULT_GRACE_SECONDS)
        anchor = last_ping_at or issued_at or datetime.now(UTC)
        if anchor.tzinfo is None:
            anchor = anchor.replace(tzinfo=UTC)
        deadline = anchor + timedelta(seconds=interval + grace)
        if connection.dialect.name == "sqlite":
            deadline = deadline.astimezone(UTC).replace(tzinfo=None)
        connection.execute(monitors.update().where(monitors.c.id == monitor_id).values(next_deadline_at=deadline))


def downgrade():
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_incidents_opened_by_ping_id_pings"), type_="foreignkey")
        batch_op.drop_column("opened_by_ping_id")
    op.execute("UPDATE pings SET body = substr(body, 1, 1000)")
    with op.batch_alter_table("pings", schema=None) as batch_op:
        batch_op.drop_column("rid")
        batch_op.drop_column("duration_ms")
        batch_op.drop_column("exit_status")
        batch_op.drop_column("body_truncated")
        batch_op.alter_column("body", existing_type=sa.Text(), type_=sa.String(length=1000), existing_nullable=True)
    with op.batch_alter_table("monitors", schema=None) as batch_op:
        batch_op.drop_index("ix_monitors_grid")
        batch_op.drop_index("ix_monitors_next_deadline")
        batch_op.drop_column("next_deadline_at")
        batch_op.drop_column("last_started_at")
    restore_state_version_triggers()
