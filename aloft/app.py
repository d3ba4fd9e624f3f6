"""The application factory."""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, request
from sqlalchemy import event

from aloft import __version__, targets
from aloft.api import input_rules
from aloft.api.blueprint import SPEC_OPTIONS
from aloft.config import ConfigError, Settings
from aloft.extensions import api, csrf, db, migrate
from aloft.migrations import MIGRATIONS_DIR
from aloft.notify.channel_types import enabled_channel_types
from aloft.plugins import load_plugins
from aloft.private_files import private_sqlite_database

MAX_BODY_BYTES = 1024 * 1024


def create_app(config: Settings | Mapping[str, str] | None = None) -> Flask:
    """Build the Aloft WSGI app.

    ``config`` is a :class:`Settings`, a mapping of ``ALOFT_*`` variables that replaces
    the process environment, or None to read the environment (and an optional ``.env``).
    Settings are used as given; otherwise the secret key is read from the data directory,
    or generated there on first start. Raises :class:`aloft.config.ConfigError` when a
    setting is unusable.
    """
    if isinstance(config, Settings):
        settings = config
    else:
        settings = Settings.from_env(config, dotenv=".env" if config is None else None).with_secret_key()
    _private_database_file(settings)
    targets.configure(settings.target_policy)

    app = Flask("aloft")
    app.config.update(_flask_config(settings))
    app.extensions["aloft.settings"] = settings
    logging.getLogger("aloft").setLevel(settings.log_level.upper())

    register_plugins(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    return app


def _private_database_file(settings: Settings) -> None:
    try:
        private_sqlite_database(settings.database_url)
    except OSError as exc:
        path = Path(exc.filename or "")
        name = "ALOFT_DATA_DIR" if settings.data_dir in (path, *path.parents) else "ALOFT_DATABASE_URL"
        raise ConfigError(f"{name}: cannot create {path}: {exc.strerror}") from exc


def _flask_config(settings: Settings) -> dict[str, Any]:
    engine_options: dict[str, Any] = {"pool_pre_ping": True}
    if settings.database_url.startswith("sqlite"):
        # Web workers and the engine share the file: wait for a lock instead of failing.
        engine_options["connect_args"] = {"timeout": 30}
    return {
        "SECRET_KEY": settings.secret_key,
        "SQLALCHEMY_DATABASE_URI": settings.database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "MAX_CONTENT_LENGTH": MAX_BODY_BYTES,
        "JSON_SORT_KEYS": False,
        "API_TITLE": "Aloft",
        "API_VERSION": __version__,
        "OPENAPI_VERSION": "3.1.0",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        # A copy per app: apispec merges each served document into these options, in place.
        "API_SPEC_OPTIONS": copy.deepcopy(SPEC_OPTIONS),
    }


def register_plugins(app: Flask) -> None:
    """Load the plugins ALOFT_PLUGINS_DISABLED leaves on, and let them add ``aloft`` subcommands.

    The channel types ALOFT_CHANNELS enables are ``app.extensions["aloft.channel_types"]``.
    """
    settings = app.extensions["aloft.settings"]
    plugins = load_plugins(settings.plugins_disabled)
    app.extensions["aloft.plugins"] = plugins
    app.extensions["aloft.channel_types"] = enabled_channel_types(plugins.channel_types, settings)
    # On app.cli, where FlaskGroup looks for an app's commands once the app is loaded.
    plugins.hook.register_commands(cli=app.cli)


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            event.listen(db.engine, "connect", _sqlite_pragmas)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True, compare_type=True)
    api.init_app(app)
    register_browser_sessions(app)
    register_authentication(app)
    # After authentication, so that the body of a request refused for its key is never read.
    app.before_request(input_rules.read_streamed_body)


def register_browser_sessions(app: Flask) -> None:
    """Sessions for people's browsers, and CSRF protection of every state-changing browser request.

    Every POST, PUT, PATCH and DELETE needs the CSRF token, except under ``/api/v1`` (an API
    key is no cookie a page can make a browser send; a session there needs the token too,
    see :mod:`aloft.api.auth`) and on plugins' own routes (the heartbeat ping URLs).
    """
    from aloft.people import sessions

    sessions.init_app(app)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    app.extensions["aloft.plugin_blueprints"] = set()

    @app.before_request
    def protect_browser_requests() -> None:
        if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
            return
        if (request.path + "/").startswith("/api/v1/"):
            return
        if request.blueprint in app.extensions["aloft.plugin_blueprints"]:
            return
        csrf.protect()


def register_authentication(app: Flask) -> None:
    """Identify the caller, count the request, then refuse it if it has no right to run."""
    from aloft.api import auth, ratelimit

    app.before_request(auth.identify)
    ratelimit.configure(app)
    app.before_request(auth.enforce)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while the engine writes; foreign keys make deletes cascade.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def register_blueprints(app: Flask) -> None:
    from aloft.api import (
        audit_log,
        channels,
        docs,
        health,
        history,
        incidents,
        invites,
        keys,
        members,
        monitors,
        organization,
        pings,
        profile,
        status,
        types,
    )
    from aloft.web import account, pages

    api.register_blueprint(health.blp, url_prefix="/api/v1")
    for resource in (
        monitors,
        history,
        pings,
        incidents,
        channels,
        status,
        keys,
        members,
        invites,
        organization,
        profile,
        types,
        audit_log,
    ):
        api.register_blueprint(resource.blp)
    before = set(app.blueprints)
    app.extensions["aloft.plugins"].hook.register_blueprints(app=app)
    app.extensions["aloft.plugin_blueprints"] = set(app.blueprints) - before
    app.register_blueprint(docs.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(account.bp)


def register_errorhandlers(app: Flask) -> None:
    from aloft.api.errors import register

    register(app)
