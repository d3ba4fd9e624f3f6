"""Aloft's settings: read from ``ALOFT_*`` environment variables, in this one place.

Every setting is documented in the README's configuration table; ``SETTINGS`` below is
the source of that table (``tests/test_config.py`` fails when the two disagree).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from dotenv import dotenv_values
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from aloft.private_files import create_private_file, narrow_to_owner, private_directory

TARGET_POLICIES = ("private-ok", "public-only")
LOG_LEVELS = ("debug", "info", "warning", "error")
SECRET_KEY_FILE = "secret_key"
DEFAULT_DATA_DIR = "./aloft-data"


class ConfigError(Exception):
    """A setting has a value Aloft cannot use; the message names the setting."""


#: name -> (default shown in the README, description)
SETTINGS: dict[str, tuple[str, str]] = {
    "ALOFT_DATA_DIR": (
        "`./aloft-data`",
        "Directory for the SQLite database, the generated secret key and the rate-limit counts "
        "(`ratelimits.db`); created 0700, its files 0600 (`aloft --data-dir` sets it for one command).",
    ),
    "ALOFT_DATABASE_URL": (
        "SQLite file `aloft.db` in the data dir",
        "SQLAlchemy URL of the database, e.g. `postgresql+psycopg://user@host/aloft`.",
    ),
    "ALOFT_REDIS_URL": (
        "unset (embedded mode)",
        "Redis for the job queue and shared rate limits. Unset: checks run in-process.",
    ),
    "ALOFT_SECRET_KEY": (
        "generated into `<data dir>/secret_key` on first start",
        "Keys API-token hashes and encrypts stored channel secrets. Changing it invalidates every API key "
        "and makes stored channel secrets unreadable (re-enter them).",
    ),
    "ALOFT_BASE_URL": (
        "`http://localhost:<port>`, the port `aloft up` binds (`--port`, `ALOFT_PORT`, 8000)",
        "Public URL of this server, used in links in notifications and in setup, reset and invitation links; "
        "with `https://` the session cookie is `Secure`.",
    ),
    "ALOFT_HOST": ("`127.0.0.1`", "Address `aloft up` binds to."),
    "ALOFT_PORT": ("`8000`", "Port `aloft up` binds to."),
    "ALOFT_WEB_WORKERS": ("`2`", "Gunicorn worker processes started by `aloft up`."),
    "ALOFT_LOG_LEVEL": ("`info`", "One of debug, info, warning, error."),
    "ALOFT_ORG_NAME": (
        "`Default`",
        "Name of the organization `aloft up` creates on first start.",
    ),
    "ALOFT_ADMIN_EMAIL": (
        "`admin@localhost`",
        "E-mail of the admin user `aloft up` creates on first start.",
    ),
    "ALOFT_RATE_LIMIT": ("`600`", "Requests per minute allowed to each API key."),
    "ALOFT_PING_RATE_LIMIT": ("`60`", "Pings per minute allowed to each heartbeat ping URL (all its routes together)."),
    "ALOFT_TARGET_POLICY": (
        "`private-ok`",
        "`private-ok` (internal hosts may be monitored; cloud-metadata and link-local refused) "
        "or `public-only` (any non-global address refused).",
    ),
    "ALOFT_PLUGINS_DISABLED": ("empty", "Comma list of plugin names not to load."),
    "ALOFT_CHANNELS": (
        "all installed",
        "Comma list of the notification channel types people may use (e.g. `slack,email`); "
        "the rest cannot be chosen for a channel.",
    ),
    "ALOFT_DELIVERY_ATTEMPTS": (
        "`8`",
        "Attempts at sending a notification before it is marked failed (a permanent error stops at once).",
    ),
    "ALOFT_DELIVERY_RETRY_SECONDS": (
        "`30`",
        "Wait before the first retry; each later one waits twice as long, at most an hour "
        "(with the defaults, 8 attempts span 63 minutes).",
    ),
    "ALOFT_DELIVERY_TIMEOUT": ("`10`", "Seconds one attempt at sending a notification may take."),
    "ALOFT_KEEP_RESULTS_DAYS": ("`7`", "Days raw check results are kept (`GET …/results`); stats come from rollups."),
    "ALOFT_KEEP_MINUTE_ROLLUPS_DAYS": ("`2`", "Days per-minute rollups are kept."),
    "ALOFT_KEEP_HOURLY_ROLLUPS_DAYS": ("`90`", "Days hourly rollups are kept."),
    "ALOFT_KEEP_DAILY_ROLLUPS_DAYS": ("`730`", "Days daily rollups are kept (`GET …/uptime?days=` reaches this far)."),
    "ALOFT_SESSION_IDLE_HOURS": (
        "`12`",
        "Hours a browser session may stay unused before it ends (the person signs in again).",
    ),
    "ALOFT_SESSION_MAX_DAYS": ("`30`", "Days a browser session lasts at most, however much it is used."),
    "ALOFT_KEEP_AUDIT_DAYS": ("`400`", "Days audit-log events are kept (`GET /api/v1/audit-log`)."),
    "ALOFT_CHECK_CONCURRENCY": (
        "`64`",
        "Checks each worker (or, embedded, the scheduler) runs at once, on threads of a child process "
        "of its own. Raise it when many monitored hosts are slow to answer.",
    ),
}


@dataclass(frozen=True)
class SmtpSettings:
    """Where Aloft's own e-mail (password resets, invitations) goes out: the e-mail channel's relay."""

    host: str
    port: int
    tls: str
    verify: bool
    user: str | None
    password: str | None = field(repr=False)
    sender: str


@dataclass(frozen=True)
class Settings:
    """Validated settings. Build one with :meth:`from_env`."""

    data_dir: Path
    database_url: str
    redis_url: str | None
    secret_key: str
    base_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    web_workers: int = 2
    log_level: str = "info"
    org_name: str = "Default"
    admin_email: str = "admin@localhost"
    rate_limit: int = 600
    ping_rate_limit: int = 60
    target_policy: str = "private-ok"
    plugins_disabled: frozenset[str] = field(default_factory=frozenset)
    check_concurrency: int = 64
    #: Enabled channel types; None: every installed one.
    channels: frozenset[str] | None = None
    delivery_attempts: int = 8
    delivery_retry_seconds: int = 30
    delivery_timeout: int = 10
    keep_results_days: int = 7
    keep_minute_rollups_days: int = 2
    keep_hourly_rollups_days: int = 90
    keep_daily_rollups_days: int = 730
    session_idle_hours: int = 12
    session_max_days: int = 30
    keep_audit_days: int = 400
    #: Every ``ALOFT_*`` variable, for channel types' own server settings (``ALOFT_SMTP_HOST``...).
    environment: Mapping[str, str] = field(default_factory=dict, hash=False, repr=False)

    @property
    def embedded(self) -> bool:
        """True when no Redis is configured: jobs run in-process."""
        return self.redis_url is None

    @property
    def secure_cookies(self) -> bool:
        """Cookies are sent over HTTPS only when the server is reached over HTTPS."""
        return self.base_url.startswith("https://")

    @property
    def smtp_configured(self) -> bool:
        """Whether Aloft can send e-mail itself (password resets, invitations): ``ALOFT_SMTP_HOST`` and ``_FROM``."""
        return self.smtp is not None

    @property
    def smtp(self) -> SmtpSettings | None:
        """The SMTP relay the e-mail channel uses (``ALOFT_SMTP_*``), for Aloft's own mail; None if unset."""
        env = {name: value.strip() for name, value in self.environment.items()}
        if not env.get("ALOFT_SMTP_HOST") or not env.get("ALOFT_SMTP_FROM"):
            return None
        tls = (env.get("ALOFT_SMTP_TLS") or "starttls").lower()
        default_port = {"tls": 465, "none": 25}.get(tls, 587)
        try:
            port = int(env.get("ALOFT_SMTP_PORT") or default_port)
        except ValueError:
            raise ConfigError(f"ALOFT_SMTP_PORT: {env['ALOFT_SMTP_PORT']!r} is not a whole number") from None
        return SmtpSettings(
            host=env["ALOFT_SMTP_HOST"],
            port=port,
            tls=tls,
            verify=(env.get("ALOFT_SMTP_VERIFY") or "true").lower() not in ("false", "0", "no"),
            user=env.get("ALOFT_SMTP_USER") or None,
            password=env.get("ALOFT_SMTP_PASSWORD") or None,
            sender=env["ALOFT_SMTP_FROM"],
        )

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database's file; None for another database, or one in memory."""
        url = make_url(self.database_url)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or url.query.get("uri"):
            return None
        return Path(url.database)

    @property
    def database_url_for_display(self) -> str:
        """The database URL with any password hidden."""
        return make_url(self.database_url).render_as_string(hide_password=True)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        dotenv: str | Path | None = ".env",
    ) -> Settings:
        """Read settings from ``environ`` (default: the process environment).

        Values in an optional ``.env`` file fill in what the environment does not set.
        """
        env: dict[str, str] = {}
        if dotenv is not None and Path(dotenv).is_file():
            env.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
        env.update(os.environ if environ is None else environ)

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        data_dir = Path(get("ALOFT_DATA_DIR") or DEFAULT_DATA_DIR).expanduser().resolve()
        database_url = _database_url(get("ALOFT_DATABASE_URL"), data_dir)
        redis_url = get("ALOFT_REDIS_URL")
        if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"ALOFT_REDIS_URL: {redis_url!r} is not a redis://, rediss:// or unix:// URL")
        port = _integer(env, "ALOFT_PORT", 8000, 1, 65535)
        base_url = (get("ALOFT_BASE_URL") or default_base_url(port)).rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"ALOFT_BASE_URL: {base_url!r} must start with http:// or https://")
        secret_key = get("ALOFT_SECRET_KEY")
        if secret_key is not None and len(secret_key) < 16:
            raise ConfigError("ALOFT_SECRET_KEY: must be at least 16 characters long")
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            redis_url=redis_url,
            secret_key=secret_key or "",
            base_url=base_url,
            host=get("ALOFT_HOST") or "127.0.0.1",
            port=port,
            web_workers=_integer(env, "ALOFT_WEB_WORKERS", 2, 1, 64),
            log_level=_choice(env, "ALOFT_LOG_LEVEL", "info", LOG_LEVELS),
            org_name=get("ALOFT_ORG_NAME") or "Default",
            admin_email=get("ALOFT_ADMIN_EMAIL") or "admin@localhost",
            rate_limit=_integer(env, "ALOFT_RATE_LIMIT", 600, 1, 1_000_000),
            ping_rate_limit=_integer(env, "ALOFT_PING_RATE_LIMIT", 60, 1, 1_000_000),
            target_policy=_choice(env, "ALOFT_TARGET_POLICY", "private-ok", TARGET_POLICIES),
            plugins_disabled=_names(get("ALOFT_PLUGINS_DISABLED")) or frozenset(),
            check_concurrency=_integer(env, "ALOFT_CHECK_CONCURRENCY", 64, 1, 1024),
            channels=_names(get("ALOFT_CHANNELS")),
            delivery_attempts=_integer(env, "ALOFT_DELIVERY_ATTEMPTS", 8, 1, 100),
            delivery_retry_seconds=_integer(env, "ALOFT_DELIVERY_RETRY_SECONDS", 30, 1, 86400),
            delivery_timeout=_integer(env, "ALOFT_DELIVERY_TIMEOUT", 10, 1, 120),
            keep_results_days=_integer(env, "ALOFT_KEEP_RESULTS_DAYS", 7, 1, 3650),
            keep_minute_rollups_days=_integer(env, "ALOFT_KEEP_MINUTE_ROLLUPS_DAYS", 2, 1, 3650),
            keep_hourly_rollups_days=_integer(env, "ALOFT_KEEP_HOURLY_ROLLUPS_DAYS", 90, 1, 3650),
            keep_daily_rollups_days=_integer(env, "ALOFT_KEEP_DAILY_ROLLUPS_DAYS", 730, 1, 36500),
            session_idle_hours=_integer(env, "ALOFT_SESSION_IDLE_HOURS", 12, 1, 24 * 365),
            session_max_days=_integer(env, "ALOFT_SESSION_MAX_DAYS", 30, 1, 3650),
            keep_audit_days=_integer(env, "ALOFT_KEEP_AUDIT_DAYS", 400, 1, 36500),
            environment={name: value for name, value in env.items() if name.startswith("ALOFT_")},
        )

    def with_secret_key(self, *, create: bool = True) -> Settings:
        """Return settings whose secret key is set, generating and storing one if needed.

        The generated key lives in ``<data dir>/secret_key`` (mode 0600, in a 0700 directory)
        so every process of this installation, and every restart, hashes API tokens the same way.
        With ``create`` the data directory is made (0700) even when ``ALOFT_SECRET_KEY`` is set.
        With ``create=False`` (a command that must not start an installation) nothing is created:
        without ``ALOFT_SECRET_KEY`` or a stored key the secret key stays empty.
        """
        path = self.data_dir / SECRET_KEY_FILE
        if create:
            try:
                private_directory(self.data_dir)
            except OSError as exc:
                raise ConfigError(f"ALOFT_DATA_DIR: cannot create {self.data_dir}: {exc.strerror}") from exc
        try:
            if self.secret_key:
                return self
            if not create:
                key = path.read_text().strip() if path.is_file() else ""
                if not key:
                    return self
            else:
                try:
                    fd = create_private_file(path)
                except FileExistsError:
                    narrow_to_owner(path)
                    key = path.read_text().strip()
                else:
                    key = secrets.token_urlsafe(48)
                    with os.fdopen(fd, "w") as handle:
                        handle.write(key + "\n")
        except OSError as exc:
            action = "store the generated secret key in" if create else "read the secret key in"
            raise ConfigError(f"ALOFT_DATA_DIR: cannot {action} {path}: {exc.strerror}") from exc
        if len(key) < 16:
            raise ConfigError(f"ALOFT_SECRET_KEY: the stored key in {path} is too short; delete the file to regenerate")
        return replace(self, secret_key=key)


def _names(value: str | None) -> frozenset[str] | None:
    """A comma list as a set of names; None when the variable is unset or empty."""
    names = frozenset(name.strip() for name in (value or "").split(",") if name.strip())
    return names or None


def default_base_url(port: int) -> str:
    """Where this server is reached when ALOFT_BASE_URL does not say: this machine, on the port it binds."""
    return f"http://localhost:{port}"


def _database_url(value: str | None, data_dir: Path) -> str:
    if value is None:
        return URL.create("sqlite", database=str(data_dir / "aloft.db")).render_as_string(hide_password=False)
    try:
        url = make_url(value)
    except ArgumentError:
        raise ConfigError(
            f"ALOFT_DATABASE_URL: {value!r} is not a database URL (expected e.g. sqlite:///aloft.db)"
        ) from None
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"ALOFT_DATABASE_URL: unsupported database {backend!r}; use sqlite or postgresql")
    if backend == "postgresql" and url.drivername == "postgresql":
        # psycopg 3 is the driver Aloft installs; plain postgresql:// would ask for psycopg2.
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def _integer(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: {value} is out of range ({low}-{high})")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in choices:
        raise ConfigError(f"{name}: {value!r} is not one of {', '.join(choices)}")
    return value
