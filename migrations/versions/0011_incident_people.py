"""Incidents record the person who acknowledged or resolved them in the web UI.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

COLUMNS = ("acknowledged_by_user_id", "resolved_by_user_id")


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
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        for column in COLUMNS:
            batch_op.add_column(sa.Column(column, sa.String(length=36), nullable=True))
            batch_op.create_foreign_key(
                op.f(f"fk_incidents_{column}_users"), "users", [column], ["id"], ondelete="SET NULL"
            )
    restore_state_version_triggers()


def downgrade():
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        for column in COLUMNS:
            batch_op.drop_constraint(op.f(f"fk_incidents_{column}_users"), type_="foreignkey")
            batch_op.drop_column(column)
    restore_state_version_triggers()
