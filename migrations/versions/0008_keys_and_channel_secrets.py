"""Keys record whether the operator minted them; channel secrets are stored encrypted.

Until now a key without a user counted as the operator's, so deleting a person (which sets
their keys' ``user_id`` to NULL) turned their keys into admin keys. Keys without a user at
this point are taken to be the operator's, as they were treated so far; from now on the
flag is set when a key is minted.

Channel secrets (each channel type's ``secret_fields``: a Slack webhook URL, a PagerDuty
routing key) were stored in clear; they are sealed with a key derived from
``ALOFT_SECRET_KEY`` (see ``aloft.notify.channel_secrets``), so the migration needs the same
secret key as the server. The downgrade opens them again.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from flask import current_app

from aloft.notify.channel_secrets import UnreadableSecret, seal_config, unseal_config

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: The built-in types' secret fields, for channels whose type is not installed where this runs.
BUILT_IN_SECRET_FIELDS = {"slack": ("webhookUrl",), "pagerduty": ("routingKey",)}
channels = sa.table("channels", sa.column("id", sa.String), sa.column("type", sa.String), sa.column("config", sa.JSON))


def upgrade():
    op.add_column("api_keys", sa.Column("minted_by_operator", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute("UPDATE api_keys SET minted_by_operator = (user_id IS NULL)")
    installed = current_app.extensions["aloft.plugins"].channel_types
    secret_fields = {**BUILT_IN_SECRET_FIELDS, **{name: kind.secret_fields for name, kind in installed.items()}}
    rewrite_configs(lambda key, channel_type, config: seal_config(key, config, secret_fields.get(channel_type, ())))


def downgrade():
    rewrite_configs(lambda key, channel_type, config: unseal_config(key, config))
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("minted_by_operator")


def rewrite_configs(rewrite):
    """Store ``rewrite(secret_key, type, config)`` as each channel's config, where it changes."""
    secret_key = current_app.extensions["aloft.settings"].secret_key
    connection = op.get_bind()
    for channel_id, channel_type, config in connection.execute(
        sa.select(channels.c.id, channels.c.type, channels.c.config)
    ).all():
        try:
            rewritten = rewrite(secret_key, channel_type, config or {})
        except UnreadableSecret as error:
            raise RuntimeError(f"Channel {channel_id}: {error}") from None
        if rewritten != config:
            connection.execute(channels.update().where(channels.c.id == channel_id).values(config=rewritten))
