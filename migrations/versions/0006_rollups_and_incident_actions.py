"""Rollups of results per minute, hour and day; who resolved an incident by hand; incidents newest first.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def restore_state_version_triggers():
    """A batch migration rebuilds SQLite's incidents table, which drops its triggers: add 0003's back."""
    if op.get_bind().dialect.name != "sqlite":
        return
    state_version = op.get_context().script.get_revision("0003").module
    for name, body in state_version.sqlite_triggers():
        if name.startswith("incidents_"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
            op.execute(f"CREATE TRIGGER {name} {body}")


def upgrade():
    op.create_table(
        "rollups",
        sa.Column("monitor_id", sa.String(length=36), nullable=False),
        sa.Column("period", sa.String(length=6), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("up", sa.Integer(), nullable=False),
        sa.Column("downtime_seconds", sa.Integer(), nullable=False),
        sa.Column("latency_count", sa.Integer(), nullable=False),
        sa.Column("latency_sum", sa.Double(), nullable=False),
        sa.Column("latency_min", sa.Double(), nullable=True),
        sa.Column("latency_max", sa.Double(), nullable=True),
        sa.Column("latency_buckets", sa.JSON(), nullable=False),
        sa.CheckConstraint("period IN ('minute', 'hour', 'day')", name=op.f("ck_rollups_period")),
        sa.ForeignKeyConstraint(
            ["monitor_id"], ["monitors.id"], name=op.f("fk_rollups_monitor_id_monitors"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("monitor_id", "period", "bucket_start", name=op.f("pk_rollups")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolved_by_key_id", sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_incidents_resolved_by_key_id_api_keys"),
            "api_keys",
            ["resolved_by_key_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index("ix_incidents_org_started", ["org_id", "started_at"], unique=False)
    restore_state_version_triggers()


def downgrade():
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_incidents_org_started")
        batch_op.drop_constraint(batch_op.f("fk_incidents_resolved_by_key_id_api_keys"), type_="foreignkey")
        batch_op.drop_column("resolved_by_key_id")
    restore_state_version_triggers()
    op.drop_table("rollups")
