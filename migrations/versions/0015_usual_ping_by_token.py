"""The usual ping names its monitor by token and leaves the stored deadline alone: ``aloft_usual_ping``.

``aloft_quiet_ping`` (0013) took the monitor's id and its new deadline, both worked out by
the web process from what it remembered of the monitor: a token's first ping in a process
cost a lookup first, and the update changed an indexed column (``next_deadline_at``), so
PostgreSQL wrote a new entry into every index of ``monitors``. Now the usual ping notes
``last_ping_at`` only; the deadline sweep finds the later deadline from it (see
:mod:`aloft.engine.heartbeats`).

The conditions of the usual ping are :data:`aloft.pings._QUIET_SUCCESS`'s (SQLite runs
those as they are); a change to them needs a migration that replaces this function.
``aloft_quiet_ping`` stays for now: web workers of the previous version, still answering
while the new ones start, call it (what it does stays right: it stores the exact deadline).
A later migration drops it.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UP = """
CREATE FUNCTION aloft_usual_ping(
    p_token varchar, p_now timestamptz, p_since timestamptz, p_limit integer, p_method varchar,
    p_source_ip varchar, p_user_agent varchar, p_body text, p_body_truncated boolean, p_exit_status integer,
    OUT ping_id bigint, OUT counted bigint, OUT oldest timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    v_monitor varchar;
BEGIN
    -- A ping answered in the last fraction of a second before the server itself crashes may be lost.
    PERFORM set_config('synchronous_commit', 'off', true);
    -- The row lock first, held to the commit: the count below (a new snapshot) sees every ping
    -- of this token taken before it, so two web workers never both take a window's last place.
    SELECT id INTO v_monitor FROM monitors WHERE ping_token = p_token FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN;  -- no monitor has this token
    END IF;
    SELECT count(*), min(received_at) INTO counted, oldest
      FROM pings WHERE monitor_id = v_monitor AND received_at >= p_since;
    IF p_limit IS NOT NULL AND counted >= p_limit THEN
        RETURN;
    END IF;
    UPDATE monitors SET last_ping_at = p_now, last_ping_kind = 'success'
     WHERE id = v_monitor AND status = 'up' AND consecutive_failures = 0 AND paused = false
       AND (last_started_at IS NULL OR last_started_at <= last_ping_at)
       AND (last_ping_at IS NULL OR last_ping_at <= p_now);
    IF NOT FOUND THEN
        RETURN;  -- not the usual ping: the caller takes it the long way
    END IF;
    INSERT INTO pings (monitor_id, received_at, kind, method, source_ip, user_agent, body, body_truncated,
                       exit_status)
    VALUES (v_monitor, p_now, 'success', p_method, p_source_ip, p_user_agent, p_body, p_body_truncated,
            p_exit_status)
    RETURNING id INTO ping_id;
END
$$;
"""

DOWN = """
DROP FUNCTION aloft_usual_ping(varchar, timestamptz, timestamptz, integer, varchar, varchar, varchar, text, boolean,
                               integer);
"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(UP)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DOWN)
