"""The ``aloft`` command: start everything, manage keys, migrate the database."""

from __future__ import annotations

import errno
import json
import os
import re
import shlex
import signal
import socket
import threading
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, routes_command, shell_command
from flask_migrate import upgrade
from flask_migrate.cli import db as migrate_commands
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from aloft import __version__
from aloft.bootstrap import bootstrap
from aloft.config import DEFAULT_DATA_DIR, SECRET_KEY_FILE, ConfigError, Settings
from aloft.extensions import db
from aloft.keys import SCOPES, InvalidScope, new_key
from aloft.models import ROLES, ApiKey, Membership, Monitor, Organization, User, utcnow
from aloft.people import audit
from aloft.plugins import NO_CHECK_TYPES, Plugins
from aloft.preflight import NO_SCHEMA, database_error, redis_error, schema_error
from aloft.supervisor import Child, Supervisor, python_module
from aloft.times import isoformat_z

F = TypeVar("F", bound=Callable[..., Any])

#: Enough of an e-mail address to tell a typo: something@something.something.
EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
#: An organization's slug: lowercase letters and digits, in words joined by single hyphens.
ORG_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


#: The commands that may start an installation: create the data directory, its secret key and database.
STARTS_AN_INSTALLATION = frozenset({"up", "db upgrade"})
#: Flask-Migrate's commands that open the database (the others read only the migration scripts).
MIGRATE_COMMANDS_THAT_OPEN_THE_DATABASE = frozenset(
    {"db current", "db check", "db downgrade", "db stamp", "db migrate"}
)


def load_app() -> Flask:
    """The app for the command being run; only ``aloft up`` and ``aloft db upgrade`` may create anything."""
    from aloft.app import create_app

    command = invoked_command()
    try:
        config = Settings.from_env().with_secret_key(create=command in STARTS_AN_INSTALLATION)
        app = create_app(config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if command in MIGRATE_COMMANDS_THAT_OPEN_THE_DATABASE:
        require_database_file(config)
    return app


def invoked_command() -> str:
    """The subcommand being run, e.g. ``keys list``; empty while the ``aloft`` group itself loads the app."""
    context = click.get_current_context(silent=True)
    names = [context.invoked_subcommand] if context is not None and context.invoked_subcommand else []
    while context is not None and context.parent is not None:
        names.insert(0, context.info_name or "")
        context = context.parent
    return " ".join(names)


def use_data_dir(_context: click.Context, _parameter: click.Parameter, value: str | None) -> None:
    # Through the environment, so that the processes `aloft up` starts see it too.
    if value is not None:
        os.environ["ALOFT_DATA_DIR"] = value


def use_port(_context: click.Context, _parameter: click.Parameter, value: int | None) -> int | None:
    # Through the environment, before the app reads its settings: the links it and the processes
    # `aloft up` starts make (ALOFT_BASE_URL's default) then name the port bound.
    if value is not None:
        os.environ["ALOFT_PORT"] = str(value)
    return value


cli = FlaskGroup(
    name="aloft",
    help="Aloft: self-hosted uptime monitoring.",
    create_app=load_app,
    add_default_commands=False,
    load_dotenv=False,
    set_debug_flag=False,
    add_version_option=False,
)
# FlaskGroup adds --app and --debug to every group; Aloft always builds its own app.
cli.params = [param for param in cli.params if param.name not in ("app", "debug")]
cli.params.append(
    click.Option(
        ["--data-dir"],
        metavar="DIR",
        expose_value=False,
        is_eager=True,
        callback=use_data_dir,
        help="The installation's data directory (default: ALOFT_DATA_DIR, or ./aloft-data).",
    )
)
cli = click.version_option(__version__, prog_name="aloft", message="%(prog)s %(version)s")(cli)
cli.add_command(shell_command)
cli.add_command(routes_command)
# Here, not only on the app's own CLI: so `aloft db …` is known before the app is built, for the right app.
cli.add_command(migrate_commands)


def settings() -> Settings:
    return current_app.extensions["aloft.settings"]


def require_services(*, schema: bool) -> None:
    """Fail with one line naming the setting when the database or Redis does not answer.

    With ``schema``, the command needs an installation: outside one it says where it looked.
    """
    config = settings()
    if schema:
        require_database_file(config)
    problem = database_error(db.engine)
    if problem is not None:
        raise click.ClickException(
            f"ALOFT_DATABASE_URL: cannot connect to {config.database_url_for_display}: {problem}"
        )
    if config.redis_url is not None and (problem := redis_error(config.redis_url)) is not None:
        raise click.ClickException(f"ALOFT_REDIS_URL: cannot connect to {config.redis_url}: {problem}")
    if schema and (problem := schema_error(db.engine)) is not None:
        if problem == NO_SCHEMA:
            raise no_installation(config, "its database has no Aloft schema")
        raise click.ClickException(problem[0].upper() + problem[1:])


def require_database_file(config: Settings) -> None:
    """Refuse before SQLite creates an empty database where there is none."""
    if config.sqlite_file is not None and not config.sqlite_file.exists():
        raise no_installation(config, "its database file does not exist")


def no_installation(config: Settings, why: str) -> click.ClickException:
    """Where Aloft looked for an installation, and how to point it at the right one."""
    return click.ClickException(
        f"No Aloft installation here: {why}.\n"
        f"  Data directory: {config.data_dir}\n"
        f"  Database: {config.database_url_for_display}\n"
        "Point at your installation with `aloft --data-dir DIR ...` or ALOFT_DATA_DIR (and ALOFT_DATABASE_URL "
        "if its database is elsewhere), or start a new one here with `aloft up`."
    )


def needs_database(command: F) -> F:
    """Check the database and its schema before the command touches it."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        require_services(schema=True)
        return command(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@cli.command("up")
@click.option("--host", help="Address to bind (default: ALOFT_HOST or 127.0.0.1).")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    callback=use_port,
    help="Port to bind (default: ALOFT_PORT or 8000).",
)
@click.option("--workers", type=click.IntRange(1, 64), help="Web worker processes (default: ALOFT_WEB_WORKERS or 2).")
def up_command(host: str | None, port: int | None, workers: int | None) -> None:
    """Migrate the database, create the first admin key once, and serve Aloft.

    Runs the web server, the scheduler (and, with Redis, a worker) under one
    supervisor; Ctrl-C stops them all.
    """
    config = settings()
    host = host or config.host
    port = port or config.port
    require_services(schema=False)
    _require_free_port(host, port)

    click.echo(f"Database: {config.database_url_for_display}")
    click.echo("Mode: " + ("embedded (no Redis)" if config.embedded else f"distributed (Redis at {config.redis_url})"))
    click.echo("Applying database migrations…")
    upgrade()
    first = bootstrap(config)
    if first is not None:
        click.echo(f"Created organization {config.org_name!r} and admin user {config.admin_email}.")
        click.echo("Admin API key (shown once; store it now):")
        click.echo(f"  {first.token}")
        click.echo(f"Set the admin's password here (one-time link, valid 24 hours):\n  {first.setup_url}")
    else:
        click.echo(
            "The admin API key was shown at the first start. Lost it? Make another with: "
            f"{_aloft_command(config)} keys create NAME"
        )
        click.echo(f"Set a password for the web UI with: {_aloft_command(config)} users set-password EMAIL")

    base = f"http://{_url_host(host)}:{port}"
    web = Child(
        "web server",
        python_module(
            "aloft.web_server", "--bind", f"{_bind_host(host)}:{port}", "--workers", str(workers or config.web_workers)
        ),
    )
    children = [web, Child("scheduler", python_module("aloft", "scheduler"))]
    if not config.embedded:
        children.append(Child("worker", python_module("aloft", "worker")))
    db.session.remove()
    db.engine.dispose()
    supervisor = Supervisor(children, echo=click.echo)
    code = supervisor.run(
        ready=lambda: _answers(f"{base}/api/v1/health"),
        on_ready=lambda: click.echo(f"Aloft is up at {base} (API docs: {base}/api/v1/docs). Press Ctrl-C to stop."),
    )
    if code:
        raise SystemExit(code)


def _bind_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _url_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else _bind_host(host)


def _require_free_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise click.ClickException(
                    f"ALOFT_PORT: port {port} on {host} is already in use; choose another with --port"
                ) from None
            raise click.ClickException(f"ALOFT_HOST: cannot bind {host}:{port}: {exc.strerror}") from None


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def _aloft_command(config: Settings) -> str:
    """``aloft`` as a person types it to reach this installation: with its data directory unless it is the default."""
    if config.data_dir == Path(DEFAULT_DATA_DIR).resolve():
        return "aloft"
    return f"aloft --data-dir {shlex.quote(str(config.data_dir))}"


@cli.group("keys")
def keys_group() -> None:
    """Create, list and revoke API keys."""


@keys_group.command("create")
@click.argument("name")
@click.option("--org", "org_slug", help="Organization slug (needed when there are several).")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help=f"Grant only this scope; repeat for several. Default: all ({', '.join(SCOPES)}).",
)
@click.option("--expires-in", type=click.IntRange(1, 3650), metavar="DAYS", help="Expire the key after DAYS days.")
@needs_database
def keys_create(name: str, org_slug: str | None, scopes: tuple[str, ...], expires_in: int | None) -> None:
    """Create an API key called NAME; the token is the last line printed."""
    name = name.strip()
    if not name or len(name) > 200:
        raise click.BadParameter("must be 1-200 characters", param_hint="NAME")
    config = settings()
    if not config.secret_key:
        raise click.ClickException(
            f"ALOFT_SECRET_KEY is not set and {config.data_dir / SECRET_KEY_FILE} does not exist; keys are "
            "hashed with the server's secret key: set ALOFT_SECRET_KEY to the server's, or point --data-dir "
            "at its data directory."
        )
    organization = _organization(org_slug)
    expires_at = utcnow() + timedelta(days=expires_in) if expires_in else None
    requested = [part.strip() for scope in scopes for part in scope.split(",") if part.strip()]
    try:
        key, token = new_key(config.secret_key, organization, name, scopes=requested or None, expires_at=expires_at)
    except InvalidScope as exc:
        raise click.BadParameter(str(exc), param_hint="--scope") from None
    db.session.add(key)
    db.session.flush()
    audit.record("key.created", organization.id, {"keyId": key.id, "name": key.name, "prefix": key.prefix})
    db.session.commit()
    click.echo(f"Created key {name!r} ({key.id}) in organization {organization.slug}.")
    click.echo(f"Scopes: {', '.join(key.scopes) if key.scopes is not None else 'all'}")
    click.echo(f"Expires: {isoformat_z(key.expires_at) or 'never'}")
    click.echo("Token (shown once; store it now):")
    click.echo(token)


def _organization(slug: str | None) -> Organization:
    organizations = db.session.scalars(select(Organization).order_by(Organization.slug)).all()
    slugs = ", ".join(org.slug for org in organizations)
    if slug is not None:
        for organization in organizations:
            if organization.slug == slug:
                return organization
        raise click.BadParameter(f"no organization {slug!r} (known: {slugs or 'none'})", param_hint="--org")
    if not organizations:
        raise click.ClickException("No organization exists yet; run `aloft up` once to create one.")
    if len(organizations) > 1:
        raise click.UsageError(f"Several organizations exist; choose one with --org ({slugs}).")
    return organizations[0]


@keys_group.command("list")
@click.option("--org", "org_slug", help="Only this organization's keys.")
@needs_database
def keys_list(org_slug: str | None) -> None:
    """List API keys (never their tokens)."""
    query = select(ApiKey, Organization.slug).join(Organization).order_by(ApiKey.created_at)
    if org_slug is not None:
        query = query.where(Organization.id == _organization(org_slug).id)
    rows = db.session.execute(query).all()
    if not rows:
        click.echo("No API keys.")
        return
    header = ("ID", "ORG", "NAME", "PREFIX", "SCOPES", "CREATED", "EXPIRES", "LAST USED", "REVOKED")
    table = [header] + [
        (
            key.id,
            slug,
            key.name,
            key.prefix,
            ",".join(key.scopes) if key.scopes is not None else "all",
            isoformat_z(key.created_at) or "",
            isoformat_z(key.expires_at) or "never",
            isoformat_z(key.last_used_at) or "never",
            isoformat_z(key.revoked_at) or "",
        )
        for key, slug in rows
    ]
    echo_table(table)


def echo_table(rows: list[tuple[str, ...]]) -> None:
    """Rows of text as columns, the first row being the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@keys_group.command("revoke")
@click.argument("key_id")
@needs_database
def keys_revoke(key_id: str) -> None:
    """Revoke the key KEY_ID; requests with its token fail from now on."""
    key = db.session.get(ApiKey, key_id)
    if key is None:
        raise click.ClickException(f"No API key with id {key_id!r} (see `aloft keys list`).")
    if key.revoked_at is not None:
        click.echo(f"Key {key.name!r} was already revoked at {isoformat_z(key.revoked_at)}.")
        return
    key.revoked_at = utcnow()
    audit.record("key.revoked", key.org_id, {"keyId": key.id, "name": key.name, "prefix": key.prefix})
    db.session.commit()
    click.echo(f"Revoked key {key.name!r} ({key.prefix}…).")


@cli.group("users")
def users_group() -> None:
    """Create and list people, and set their passwords."""


@users_group.command("create")
@click.argument("email")
@click.option("--org", "org_slug", help="The organization to add them to (needed when there are several).")
@click.option("--role", type=click.Choice(ROLES), default="member", show_default=True, help="Their role in it.")
@click.option("--name", default="", help="Their name.")
@needs_database
def users_create(email: str, org_slug: str | None, role: str, name: str) -> None:
    """Add the person EMAIL to an organization; prints a one-time link (24 h) where they set their password."""
    from aloft.people.accounts import create_user, find_user, normalize_email
    from aloft.people.links import link_url, new_link

    email = normalize_email(email)
    if not EMAIL.fullmatch(email) or len(email) > 320:
        raise click.BadParameter(f"{email!r} is not an e-mail address", param_hint="EMAIL")
    organization = _organization(org_slug)
    user = find_user(email)
    if user is not None and any(m.org_id == organization.id for m in user.memberships):
        raise click.ClickException(f"{email} is already a member of {organization.slug}.")
    if user is None:
        user = create_user(email, name.strip()[:200])
    db.session.add(Membership(organization=organization, user=user, role=role))
    url = None
    if user.password_hash is None:
        _link, token = new_link("setup", user=user)
        url = link_url("setup", token)
    db.session.commit()
    click.echo(f"Added {email} to {organization.slug} as {role}.")
    if url is not None:
        click.echo(f"They set their password here (one-time link, valid 24 hours):\n  {url}")


@users_group.command("set-password")
@click.argument("email")
@needs_database
def users_set_password(email: str) -> None:
    """Set the password of EMAIL (asked twice, never an argument); their sessions end."""
    from aloft.people.accounts import find_user, set_password
    from aloft.people.passwords import WeakPassword

    user = find_user(email)
    if user is None:
        raise click.ClickException(f"No user with e-mail {email!r} (see `aloft users list`).")
    while True:
        password = click.prompt("New password", hide_input=True, confirmation_prompt="Repeat it")
        try:
            set_password(user, password, action="user.password_reset")
        except WeakPassword as weak:
            db.session.rollback()
            click.echo(f"Refused: {weak}", err=True)
            continue
        break
    db.session.commit()
    click.echo(f"Password set for {user.email}; their browser sessions ended.")


@users_group.command("list")
@needs_database
def users_list() -> None:
    """List people, their organizations and roles (never their passwords)."""
    users = db.session.scalars(select(User).order_by(User.email)).all()
    if not users:
        click.echo("No users.")
        return
    slugs = dict(db.session.execute(select(Organization.id, Organization.slug)).all())
    table = [("EMAIL", "NAME", "ORGANIZATIONS", "PASSWORD", "CREATED")] + [
        (
            user.email,
            user.name or "",
            ", ".join(sorted(f"{slugs[m.org_id]}:{m.role}" for m in user.memberships)) or "none",
            "set" if user.password_hash else "not set",
            isoformat_z(user.created_at) or "",
        )
        for user in users
    ]
    echo_table(table)


@cli.group("orgs")
def orgs_group() -> None:
    """Create and list organizations."""


@orgs_group.command("create")
@click.argument("slug")
@click.option("--name", help="The organization's name (default: SLUG).")
@needs_database
def orgs_create(slug: str, name: str | None) -> None:
    """Create an organization; SLUG (lowercase letters, digits, hyphens) names it in commands."""
    if not ORG_SLUG.fullmatch(slug) or len(slug) > 64:
        raise click.BadParameter(
            "use 1-64 lowercase letters, digits and hyphens, with no hyphen first, last or twice in a row",
            param_hint="SLUG",
        )
    name = (name if name is not None else slug).strip()
    if not name or len(name) > 200:
        raise click.BadParameter("must be 1-200 characters", param_hint="--name")
    taken = f"Organization {slug!r} already exists (see `aloft orgs list`)."
    if db.session.scalar(select(Organization.id).where(Organization.slug == slug)) is not None:
        raise click.ClickException(taken)
    db.session.add(Organization(slug=slug, name=name))
    try:
        db.session.commit()
    except IntegrityError:  # created by someone else since the check above
        db.session.rollback()
        raise click.ClickException(taken) from None
    click.echo(f"Created organization {slug} ({name}).")
    click.echo(f"Give it an API key: {_aloft_command(settings())} keys create NAME --org {slug}")


@orgs_group.command("list")
@needs_database
def orgs_list() -> None:
    """List organizations with their number of monitors and of API keys in force."""
    monitors = select(func.count(Monitor.id)).where(Monitor.org_id == Organization.id).scalar_subquery()
    keys = (
        select(func.count(ApiKey.id))
        .where(ApiKey.org_id == Organization.id, ApiKey.revoked_at.is_(None))
        .scalar_subquery()
    )
    rows = db.session.execute(select(Organization.slug, Organization.name, monitors, keys).order_by(Organization.slug))
    table = [("SLUG", "NAME", "MONITORS", "KEYS")] + [(slug, name, str(m), str(k)) for slug, name, m, k in rows]
    if len(table) == 1:
        click.echo("No organizations; `aloft up` creates the first.")
        return
    echo_table(table)


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, with each type's schema, instead of text.")
def plugins_command(as_json: bool) -> None:
    """List installed plugins with their versions, hooks and the types they provide."""
    plugins: Plugins = current_app.extensions["aloft.plugins"]
    described = plugins.describe()
    if as_json:
        for entry in described:
            entry["types"] = described_types(plugins, entry)
        click.echo(json.dumps(described, indent=2))
        return
    if not described:
        click.echo("No plugins installed.")
    for entry in described:
        click.echo(entry["name"])
        click.echo(f"  distribution: {entry['distribution']} {entry['version'] or '(version unknown)'}")
        click.echo(f"  hooks: {', '.join(entry['hooks']) or 'none'}")
        click.echo(f"  check types: {', '.join(entry['check_types']) or 'none'}")
        click.echo(f"  channel types: {', '.join(entry['channel_types']) or 'none'}")
        click.echo()
    if not plugins.check_types:
        click.echo(NO_CHECK_TYPES)


def described_types(plugins: Plugins, entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The types a plugin provides, each as ``/api/v1/check-types`` or ``/api/v1/channel-types``
    shows it (with ``"kind"``); a channel type this server cannot use says why in ``problem``."""
    from aloft.notify.channel_types import settings_problem
    from aloft.type_catalog import channel_type_entry, check_type_entry

    enabled = current_app.extensions["aloft.channel_types"]
    types = [{"kind": "check", **check_type_entry(plugins, plugins.check_types[name])} for name in entry["check_types"]]
    for name in entry["channel_types"]:
        channel_type = plugins.channel_types[name]
        problem = (
            settings_problem(channel_type, settings())
            if name in enabled
            else f"The {name} channel type is not enabled: ALOFT_CHANNELS does not name it"
        )
        types.append({"kind": "channel", **channel_type_entry(plugins, channel_type, problem)})
    return types


@cli.group("plugin")
def plugin_group() -> None:
    """Write a plugin of your own."""


@plugin_group.command("new", with_appcontext=False)
@click.argument("name")
@click.option("--kind", type=click.Choice(["check", "channel"]), required=True, help="A check type or a channel type.")
@click.option(
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default="the current directory",
    help="Where to write the distribution's folder.",
)
def plugin_new_command(name: str, kind: str, directory: Path) -> None:
    """Write aloft-NAME/, a distribution providing the NAME check or channel type, whose tests pass as written."""
    from aloft.plugin_template import PluginNames, TemplateError, write_plugin

    try:
        folder = write_plugin(name, kind, directory)
    except TemplateError as error:
        raise click.ClickException(str(error)) from None
    names = PluginNames(name, kind)
    click.echo(f"Wrote {folder}: the {kind} type {name!r} in {names.package}/, its tests in tests/.")
    click.echo("Next:")
    click.echo(f"  cd {shlex.quote(str(folder))} && pip install -e . pytest && pytest")
    click.echo("  aloft plugins      # lists it; restart Aloft to load it")


def main() -> None:
    cli.main(prog_name="aloft")


@cli.command("scheduler")
@click.option("--queue", default=None, metavar="NAME", help="RQ queue for the jobs (default: aloft-checks).")
def scheduler_command(queue: str | None) -> None:
    """Claim due checks and run them: on RQ workers with Redis, in this process without."""
    from aloft.engine.executors import QUEUE_NAME, EmbeddedExecutor, RQExecutor
    from aloft.engine.scheduler import Scheduler
    from aloft.notify.channel_types import warn_about_unusable_types

    require_services(schema=True)
    config = settings()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if config.redis_url is None:
        executor: EmbeddedExecutor | RQExecutor = EmbeddedExecutor(app)
        mode = f"checks in-process, {executor.runner.concurrency} at once"
    else:
        executor = RQExecutor(config.redis_url, queue or QUEUE_NAME)
        mode = f"jobs to RQ queue {queue or QUEUE_NAME!r}"
    types = ", ".join(sorted(app.extensions["aloft.plugins"].check_types)) or "none (install a check plugin)"
    click.echo(f"Scheduler running ({mode}); check types: {types}")
    warn_about_unusable_types(app)
    stop = threading.Event()
    _stop_on_signals(stop)
    pruning = threading.Thread(target=_prune_forever, args=(app, config, stop), name="aloft-pruner", daemon=True)
    pruning.start()
    try:
        Scheduler(lambda: db.session, executor).run(stop)
    finally:
        executor.close()


def _prune_forever(app: Flask, config: Settings, stop: threading.Event) -> None:
    from aloft.stats.pruning import Pruner

    with app.app_context():
        Pruner(lambda: db.session, config).run(stop)


@cli.command("prune")
@needs_database
def prune_command() -> None:
    """Delete results and rollups past their retention now (the scheduler does it hourly)."""
    from aloft.stats.pruning import cutoffs, prune

    config = settings()
    for kind, cutoff in cutoffs(config, utcnow()).items():
        click.echo(f"{kind}: older than {isoformat_z(cutoff)}")
    pruned = prune(db.session, config, progress=lambda so_far: click.echo(f"  … {so_far}", err=True))
    click.echo(f"Pruned {pruned}.")
    click.echo(f"Stored the p95 response time of {pruned.sealed} finished days.")
    click.echo(f"Pruned {pruned.audit_events} audit-log events older than {config.keep_audit_days} days.")


@cli.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
@click.option("--queue", default=None, metavar="NAME", help="RQ queue to take jobs from (default: aloft-checks).")
def worker_command(burst: bool, queue: str | None) -> None:
    """Run check jobs from Redis (needs ALOFT_REDIS_URL). Start as many as you like."""
    from aloft.engine.executors import QUEUE_NAME
    from aloft.engine.jobs import start_runner, stop_runner
    from aloft.engine.worker import work
    from aloft.notify.channel_types import warn_about_unusable_types
    from aloft.notify.dispatch import close_sender
    from aloft.redis_connection import connect

    config = settings()
    if config.redis_url is None:
        raise click.ClickException(
            "ALOFT_REDIS_URL: not set; workers take jobs from Redis (without it, `aloft up` runs checks itself)"
        )
    require_services(schema=True)
    connection = connect(config.redis_url)
    # SimpleWorker runs jobs in this process (no fork per job): each job hands its checks
    # to this process's runner, which runs them in a check process started once, here.
    # A worker killed mid-check loses those checks for one interval only: the scheduler
    # hands out each monitor's next slot on time whatever happened to the last.
    runner = start_runner(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(f"Worker running {runner.concurrency} checks at once (check process {runner.process.pid})")
    warn_about_unusable_types(current_app._get_current_object())  # type: ignore[attr-defined]
    try:
        work(config.redis_url, connection, queue or QUEUE_NAME, burst=burst, logging_level=config.log_level.upper())
    finally:
        stop_runner()  # record what is still running before exiting
        close_sender(current_app._get_current_object())  # type: ignore[attr-defined]


def _stop_on_signals(stop: threading.Event) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
