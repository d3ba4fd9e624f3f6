"""Keys record whether the operator minted them.

Until now a key without a user counted as the operator's, so deleting a person (which sets
their keys' ``user_id`` to NULL) turned their keys into admin keys. Keys without a user at
this point are taken to be the operator's, as they were treated so far; from now on the
flag is set when a key is minted.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("api_keys", sa.Column("minted_by_operator", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute("UPDATE api_keys SET minted_by_operator = (user_id IS NULL)")


def downgrade():
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("minted_by_operator")
