"""Checks on a grid: a spread key per monitor and one schedule mark instead of a due time per monitor.

A monitor's checks fall every interval at an offset its random ``spread_key`` gives, so
the scheduler no longer writes a due time for every check it hands out: it claims a stretch
of time by moving the installation's one ``schedule`` mark (see aloft.engine.scheduler).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Random, non-negative and below 2**62, as the model's default.
RANDOM_SPREAD_KEY = {
    "postgresql": "floor(random() * 4611686018427387904)::bigint",
    "sqlite": "random() & 4611686018427387903",
}


def restore_state_version_triggers():
    """A batch migration rebuilds SQLite's monitors table, which drops its triggers: add 0003's back."""
    if op.get_bind().dialect.name != "sqlite":
        return
    state_version = op.get_context().script.get_revision("0003").module
    for name, body in state_version.sqlite_triggers():
        if name.startswith("monitors_"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
            op.execute(f"CREATE TRIGGER {name} {body}")


def upgrade():
    op.create_table(
        "schedule",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("handed_out_until_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule")),
    )
    with op.batch_alter_table("monitors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("spread_key", sa.BigInteger(), nullable=True))
    op.execute(f"UPDATE monitors SET spread_key = {RANDOM_SPREAD_KEY[op.get_bind().dialect.name]}")
    with op.batch_alter_table("monitors", schema=None) as batch_op:
        batch_op.alter_column("spread_key", existing_type=sa.BigInteger(), nullable=False)
        batch_op.drop_index("ix_monitors_due")
        batch_op.drop_column("next_check_ms")
    restore_state_version_triggers()


def downgrade():
    with op.batch_alter_table("monitors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_check_ms", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_monitors_due", ["paused", "next_check_ms"], unique=False)
        batch_op.drop_column("spread_key")
    restore_state_version_triggers()
    op.drop_table("schedule")
