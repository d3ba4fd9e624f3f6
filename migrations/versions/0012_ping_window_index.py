"""Pings are counted per token over the last minute by an index on (monitor_id, received_at).

The rate limit's count (:func:`aloft.pings.record_ping`) read every kept ping of the monitor
(up to 100, or the limit when larger) through ``ix_pings_monitor_newest`` to look at its time;
with this index it reads only the pings of the window.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_pings_monitor_received", "pings", ["monitor_id", "received_at"])


def downgrade():
    op.drop_index("ix_pings_monitor_received", table_name="pings")
