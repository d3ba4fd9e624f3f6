"""Where the Alembic migrations live: the top-level ``migrations/`` of the checkout."""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
