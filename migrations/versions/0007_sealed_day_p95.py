"""A finished day's p95 latency stored on its rollup, and an index of the days still to seal.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TO_SEAL = "period = 'day' AND latency_p95 IS NULL"


def upgrade():
    # A plain ADD COLUMN on SQLite too: the table is not rebuilt.
    op.add_column("rollups", sa.Column("latency_p95", sa.Double(), nullable=True))
    op.create_index(
        "ix_rollups_days_to_seal",
        "rollups",
        ["bucket_start"],
        unique=False,
        sqlite_where=sa.text(TO_SEAL),
        postgresql_where=sa.text(TO_SEAL),
    )


def downgrade():
    op.drop_index(
        "ix_rollups_days_to_seal",
        table_name="rollups",
        sqlite_where=sa.text(TO_SEAL),
        postgresql_where=sa.text(TO_SEAL),
    )
    with op.batch_alter_table("rollups", schema=None) as batch_op:
        batch_op.drop_column("latency_p95")
