"""Pytest fixtures for Aloft and its plugins: an app on a migrated database, an org, a key.

Use them from a plugin's tests with ``pytest_plugins = ["aloft.testing"]`` in its
``conftest.py``. The database is SQLite unless ``ALOFT_TEST_DATABASE_URL`` names a
PostgreSQL server, in which case a throwaway database is created there for the session.

Tests that need Redis or PostgreSQL skip when those do not answer, except when
``ALOFT_TEST_REQUIRE_SERVICES=1`` (CI sets it): then they fail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from aloft.app import create_app
from aloft.config import Settings
from aloft.extensions import db
from aloft.keys import new_key
from aloft.models import ApiKey, Organization
from aloft.preflight import database_error, redis_error

TEST_SECRET_KEY = "test-secret-key-0123456789abcdef"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def services_required() -> bool:
    return os.environ.get("ALOFT_TEST_REQUIRE_SERVICES") == "1"


def unavailable(reason: str) -> None:
    """Skip the test for a missing service, or fail when services are required."""
    if services_required():
        pytest.fail(f"{reason} (ALOFT_TEST_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def postgres_admin_url() -> str:
    return os.environ.get("ALOFT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def create_postgres_database(admin_url: str) -> str:
    """Create an empty, uniquely named database next to ``admin_url``'s and return its URL."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    problem = database_error(admin)
    if problem is not None:
        admin.dispose()
        unavailable(f"PostgreSQL at {make_url(admin_url).render_as_string()} is unreachable: {problem}")
    name = f"aloft_test_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def make_settings(data_dir: Path, database_url: str, **overrides: str) -> Settings:
    """Settings for a test, independent of the developer's own ``ALOFT_*`` variables."""
    environ = {
        "ALOFT_DATA_DIR": str(data_dir),
        "ALOFT_DATABASE_URL": database_url,
        "ALOFT_SECRET_KEY": TEST_SECRET_KEY,
        **overrides,
    }
    return Settings.from_env(environ, dotenv=None)


@pytest.fixture(scope="session")
def aloft_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for the session (SQLite, or PostgreSQL when configured)."""
    wanted = os.environ.get("ALOFT_TEST_DATABASE_URL", "sqlite")
    if wanted == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'aloft.db'}"
        admin_url = None
    else:
        admin_url = wanted
        url = create_postgres_database(admin_url)
    app = create_app(make_settings(tmp_path_factory.mktemp("data"), url))
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    yield url
    if admin_url is not None:
        drop_postgres_database(admin_url, url)


@pytest.fixture
def aloft_settings(tmp_path: Path, aloft_database_url: str) -> Settings:
    return make_settings(tmp_path / "data", aloft_database_url)


@pytest.fixture
def app(aloft_settings: Settings) -> Iterator[Flask]:
    """The Aloft app on the session's database, emptied after each test."""
    application = create_app(aloft_settings)
    application.testing = True
    with application.app_context():
        yield application
        db.session.remove()
        empty_database()
        db.engine.dispose()


def empty_database() -> None:
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
            connection.execute(text(f"TRUNCATE {names} CASCADE"))
        else:
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(table.delete())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def org(app: Flask) -> Organization:
    """An organization named Acme."""
    organization = Organization(slug="acme", name="Acme")
    db.session.add(organization)
    db.session.commit()
    return organization


@pytest.fixture
def other_org(app: Flask) -> Organization:
    """A second organization, whose objects the first must never see."""
    organization = Organization(slug="globex", name="Globex")
    db.session.add(organization)
    db.session.commit()
    return organization


def issue_key(app: Flask, organization: Organization, name: str = "test key", **kwargs: object) -> tuple[ApiKey, str]:
    """Store a new key for ``organization``; return it with its raw token."""
    key, token = new_key(app.extensions["aloft.settings"].secret_key, organization, name, **kwargs)  # type: ignore[arg-type]
    db.session.add(key)
    db.session.commit()
    return key, token


@pytest.fixture
def token(app: Flask, org: Organization) -> str:
    """A raw API token with every scope, for ``org``."""
    return issue_key(app, org)[1]


@pytest.fixture
def auth_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A reachable Redis (database 15 by default); skips or fails when there is none."""
    url = os.environ.get("ALOFT_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    problem = redis_error(url)
    if problem is not None:
        unavailable(f"Redis at {url} is unreachable: {problem}")
    return url
