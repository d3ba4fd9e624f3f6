"""Deliveries as an outbox: the notification they carry, the monitor, and a lease for the sender.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("monitor_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("payload", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.create_foreign_key(
            batch_op.f("fk_deliveries_monitor_id_monitors"), "monitors", ["monitor_id"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("payload", existing_type=sa.JSON(), server_default=None)


def downgrade():
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_deliveries_monitor_id_monitors"), type_="foreignkey")
        batch_op.drop_column("payload")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("monitor_id")
