"""Organization state version, bumped by triggers on what GET /api/v1/status shows.

Triggers, not application code, keep it: no writer (the API, the engine, a plugin, an
operator's SQL) can change a monitor's status or name, or an incident, without bumping it.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

MONITOR_COLUMNS = ("status", "name")
INCIDENT_COLUMNS = ("status", "cause", "started_at")

POSTGRESQL_UP = """
CREATE FUNCTION aloft_bump_state_version() RETURNS trigger AS $$
BEGIN
    UPDATE organizations SET state_version = state_version + 1
    WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.org_id ELSE NEW.org_id END;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER monitors_state_version AFTER INSERT OR DELETE ON monitors
    FOR EACH ROW EXECUTE FUNCTION aloft_bump_state_version();
CREATE TRIGGER monitors_state_version_update AFTER UPDATE ON monitors
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION aloft_bump_state_version();
CREATE TRIGGER incidents_state_version AFTER INSERT OR DELETE ON incidents
    FOR EACH ROW EXECUTE FUNCTION aloft_bump_state_version();
CREATE TRIGGER incidents_state_version_update AFTER UPDATE ON incidents
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.cause IS DISTINCT FROM NEW.cause
                       OR OLD.started_at IS DISTINCT FROM NEW.started_at)
    EXECUTE FUNCTION aloft_bump_state_version();
"""

POSTGRESQL_DOWN = """
DROP TRIGGER incidents_state_version_update ON incidents;
DROP TRIGGER incidents_state_version ON incidents;
DROP TRIGGER monitors_state_version_update ON monitors;
DROP TRIGGER monitors_state_version ON monitors;
DROP FUNCTION aloft_bump_state_version();
"""


def sqlite_triggers() -> list[tuple[str, str]]:
    bump = "UPDATE organizations SET state_version = state_version + 1 WHERE id = {row}.org_id;"
    triggers = []
    for table, columns in (("monitors", MONITOR_COLUMNS), ("incidents", INCIDENT_COLUMNS)):
        changed = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in columns)
        triggers += [
            (f"{table}_state_version_insert", f"AFTER INSERT ON {table} BEGIN {bump.format(row='NEW')} END"),
            (f"{table}_state_version_delete", f"AFTER DELETE ON {table} BEGIN {bump.format(row='OLD')} END"),
            (
                f"{table}_state_version_update",
                f"AFTER UPDATE ON {table} WHEN {changed} BEGIN {bump.format(row='NEW')} END",
            ),
        ]
    return triggers


def upgrade():
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state_version", sa.Integer(), server_default="0", nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_UP)
    else:
        for name, body in sqlite_triggers():
            op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_DOWN)
    else:
        for name, _ in sqlite_triggers():
            op.execute(f"DROP TRIGGER {name}")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("state_version")
