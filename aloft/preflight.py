"""Checks that the services a process needs answer, with one-line reasons when not."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from aloft.migrations import MIGRATIONS_DIR
from aloft.redis_connection import connect

NO_SCHEMA = "the database has no Aloft schema"


def database_error(engine: Engine) -> str | None:
    """None when the database answers, else why it does not."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return _first_line(exc.orig or exc)
    return None


def schema_error(engine: Engine) -> str | None:
    """None when the database schema is at the newest migration, else what to do (:data:`NO_SCHEMA`: none at all)."""
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current == head:
        return None
    if current is None:
        return NO_SCHEMA
    return f"the database schema is at {current}, not {head}; run `aloft db upgrade`"


def redis_error(url: str) -> str | None:
    """None when Redis at ``url`` answers a PING, else why it does not."""
    import redis

    try:
        connect(url).ping()
    except redis.RedisError as exc:
        return _first_line(exc)
    return None


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
