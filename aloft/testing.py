"""Pytest fixtures for Aloft and its plugins: an app on a migrated database, an org, a key.

Use them from a plugin's tests with ``pytest_plugins = ["aloft.testing"]`` in its
``conftest.py``. The database is SQLite unless ``ALOFT_TEST_DATABASE_URL`` names a
PostgreSQL server, in which case a throwaway database is created there for the session.

Tests that need Redis or PostgreSQL skip when those do not answer, except when
``ALOFT_TEST_REQUIRE_SERVICES=1`` (CI sets it): then they fail.

The names in ``__all__`` are the public surface, each documented in docs/plugins.md
("Test it with aloft.testing"); anything else here is Aloft's own test plumbing
(PostgreSQL databases, a Redis server to stop and start) and may change.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import BigInteger, create_engine, literal, select, text, update
from sqlalchemy.engine import make_url

from aloft import targets
from aloft.app import create_app
from aloft.channels import Notification, NotificationKind
from aloft.checks import CheckResult
from aloft.config import Settings
from aloft.engine.jobs import BatchReport, run_batch
from aloft.engine.scheduler import now_ms
from aloft.engine.state import slot_time
from aloft.extensions import db
from aloft.keys import new_key
from aloft.models import SCHEDULE_ID, ApiKey, Monitor, Organization, Schedule
from aloft.models import CheckResult as CheckResultRow
from aloft.preflight import database_error, redis_error

__all__ = [
    "SAMPLE_STARTED",
    "CheckRun",
    "DeliveryOutcome",
    "LocalHTTPServer",
    "ReceivedRequest",
    "Receiver",
    "SmtpServer",
    "aloft_database_url",
    "aloft_settings",
    "app",
    "auth_headers",
    "ca",
    "client",
    "closed_port",
    "issue_key",
    "make_monitor",
    "make_settings",
    "org",
    "other_org",
    "receiver",
    "redis_url",
    "resolve_as",
    "run_check",
    "sample_notification",
    "send_outbox",
    "silent_port",
    "smtp_server",
    "token",
    "trusted_ca",
]

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


class RedisServer:
    """A Redis server of one test's own (``redis-server`` on a free port), which it can stop and start again.

    Nothing else uses it: its keys are the test's alone, and stopping it (SIGKILL, as a crash
    would) and starting it again on the same port is how a test takes Redis away and brings it
    back. It keeps nothing on disk, so it comes back empty.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        with socket.create_server(("127.0.0.1", 0)) as probe:
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A started :class:`RedisServer`; needs the ``redis-server`` program (CI installs it)."""
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def make_monitor(client: FlaskClient, token: str) -> Callable[..., dict[str, Any]]:
    """Create monitors through ``POST /api/v1/monitors``, validated exactly as users' are.

    ``make_monitor(check_type, *, token=..., **fields)`` sends ``fields`` under their API
    names (``url``, ``settings``, ``intervalSeconds``, ``confirmationCount``…) with a default
    ``name``, as the organization of ``token`` (default: the ``token`` fixture's), and
    returns the created monitor's JSON. A refusal fails the test with the API's answer.
    """
    default_token = token

    def make(check_type: str, *, token: str = default_token, **fields: Any) -> dict[str, Any]:
        body = {"name": f"{check_type} monitor", "type": check_type, **fields}
        response = client.post("/api/v1/monitors", json=body, headers={"Authorization": f"Bearer {token}"})
        if response.status_code != 201:
            pytest.fail(f"POST /api/v1/monitors answered {response.status_code}: {response.get_json()}", pytrace=False)
        return response.get_json()["monitor"]

    return make


def make_due(*monitor_ids: str, at_ms: int | None = None) -> int:
    """Put a check of each monitor (of every monitor, when none is named) at ``at_ms`` (default: 1 ms ago).

    It moves the monitors' grids (their ``spread_key``) through that instant, and the schedule
    mark back before it when needed, so the scheduler's next claim hands those checks out.
    Returns the slot, epoch ms.
    """
    slot = now_ms() - 1 if at_ms is None else at_ms
    monitors = Monitor.__table__
    # Typed literals: PostgreSQL would otherwise bind them as 32-bit integers.
    interval_ms = monitors.c.interval_seconds * literal(1000, BigInteger())
    statement = update(monitors).values(spread_key=literal(slot, BigInteger()) % interval_ms)
    if monitor_ids:
        statement = statement.where(monitors.c.id.in_(monitor_ids))
    db.session.execute(statement)
    mark = db.session.get(Schedule, SCHEDULE_ID)
    if mark is None:
        db.session.add(Schedule(id=SCHEDULE_ID, handed_out_until_ms=slot - 1))
    else:
        mark.handed_out_until_ms = min(mark.handed_out_until_ms, slot - 1)
    db.session.commit()
    return slot


@dataclass(frozen=True)
class CheckRun:
    """One check run by :func:`run_check`: the result the engine recorded, the monitor's
    status after it, and the batch's report (``report.opened`` and ``report.resolved`` list
    the ids of incidents it opened or resolved)."""

    result: CheckResult
    status: str
    report: BatchReport


@pytest.fixture
def run_check(app: Flask) -> Callable[..., CheckRun]:
    """Run one check of a monitor through the engine's job function, as a worker does.

    ``run_check(monitor_id, slot_ms=None)`` calls the check type's ``run`` on a check
    thread, records the result and moves the monitor's state on (``confirmationCount``
    failures in a row turn it ``down`` and open an incident). Each call is a new, later
    slot unless ``slot_ms`` names one; a slot already recorded is not recorded again.
    The deliveries an opened or resolved incident writes go to this process's sender
    threads, as a worker's do: :func:`send_outbox` waits until they are sent.
    """
    latest_slot = 0

    def run(monitor_id: str, slot_ms: int | None = None) -> CheckRun:
        nonlocal latest_slot
        if slot_ms is None:
            slot_ms = max(now_ms(), latest_slot + 1)
        latest_slot = max(latest_slot, slot_ms)
        report = run_batch([(monitor_id, slot_ms)])
        row = db.session.scalar(
            select(CheckResultRow).where(
                CheckResultRow.monitor_id == monitor_id, CheckResultRow.checked_at == slot_time(slot_ms)
            )
        )
        if row is None:
            pytest.fail(
                f"No check of monitor {monitor_id} was recorded: is it there, unpaused, its type installed?",
                pytrace=False,
            )
        monitor = db.session.get(Monitor, monitor_id)
        result = CheckResult(row.ok, row.latency_ms, row.cause, row.details or {})
        return CheckRun(result, monitor.status if monitor is not None else "deleted", report)

    return run


@dataclass(frozen=True)
class DeliveryOutcome:
    """Where one delivery stands after :func:`send_outbox`: its ``event`` (``opened``, ``resolved``,
    ``acknowledged``), the channel's name, ``status`` (``sent``, ``failed``, or ``pending`` when a
    retry is due later), the attempts made, and the last error."""

    delivery_id: str
    event: str
    channel_name: str
    status: str
    attempts: int
    last_error: str | None


@pytest.fixture
def send_outbox(app: Flask) -> Callable[..., list[DeliveryOutcome]]:
    """Send the pending deliveries now, in this thread, as Aloft's sender does; wait for those another
    sender is sending.

    A check that opens or resolves an incident (``run_check``), an acknowledgement or a resolve
    by hand write one delivery per channel of the monitor (the outbox); the process that wrote
    them hands them to its sender threads, and the scheduler's sweeper sends what is left.
    ``send_outbox(timeout=30)`` makes that happen before the test goes on: each pending
    delivery gets one attempt through its channel type's ``send``, retries included (a
    delivery waiting for its retry is tried now), in the order they were written, and the
    call returns once no sender holds any, with a :class:`DeliveryOutcome` for each delivery
    that was pending or that a sender thread finished since the previous call (so a message
    the background sender was quicker to send is still reported), oldest first. A delivery held
    back behind an earlier one of the same incident that is still pending stays pending.
    """
    from aloft.models import Channel, Delivery
    from aloft.notify.sending import deliver

    #: Deliveries an earlier call returned: a sent one is not returned again.
    reported: set[str] = set()

    def pending() -> list[tuple[str, datetime | None]]:
        rows = db.session.execute(
            select(Delivery.id, Delivery.claimed_until)
            .where(Delivery.status == "pending")
            .order_by(Delivery.created_at, Delivery.id)
        ).all()
        db.session.rollback()
        return [(row.id, row.claimed_until) for row in rows]

    def unreported() -> list[str]:
        # What is pending, and what a sender thread finished before this call could (the test's
        # database holds only the test's deliveries).
        rows = db.session.execute(select(Delivery.id, Delivery.status).order_by(Delivery.created_at, Delivery.id)).all()
        db.session.rollback()
        return [row.id for row in rows if row.status == "pending" or row.id not in reported]

    def send(timeout: float = 30) -> list[DeliveryOutcome]:
        wanted = unreported()
        tried: set[str] = set()
        deadline = time.monotonic() + timeout
        while True:
            for delivery_id, _ in pending():
                if delivery_id not in wanted or delivery_id in tried:
                    continue
                if deliver(app, delivery_id, early=True) is not None:
                    tried.add(delivery_id)
            now = datetime.now(UTC)
            held = [
                delivery_id
                for delivery_id, claimed_until in pending()
                if claimed_until is not None and _aware(claimed_until) > now and delivery_id not in tried
            ]
            if not held:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"{len(held)} deliveries were still being sent after {timeout} s", pytrace=False)
            time.sleep(0.05)
        rows = db.session.execute(
            select(Delivery, Channel.name)
            .join(Channel, Channel.id == Delivery.channel_id)
            .where(Delivery.id.in_(wanted))
        ).all()
        db.session.rollback()
        found = {
            delivery.id: DeliveryOutcome(
                delivery.id, delivery.event, name, delivery.status, delivery.attempts, delivery.last_error
            )
            for delivery, name in rows
        }
        reported.update(wanted)
        return [found[delivery_id] for delivery_id in wanted if delivery_id in found]

    return send


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; Aloft stores UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@pytest.fixture
def resolve_as() -> Iterator[Callable[..., None]]:
    """Fake DNS for outbound checks: ``resolve_as({"db.internal": ["10.0.0.5"]}, "public-only")``.

    Installs a resolver answering those names (any other name does not resolve) under the
    given ``ALOFT_TARGET_POLICY``; the test starts, and every test after it runs, with the
    default policy and the system resolver. ``delay=30`` makes it answer 30 seconds late, as a
    resolver whose DNS server is gone does (it answers at once when the test ends).
    """
    released = threading.Event()

    def install(names: dict[str, list[str]], policy: str = "private-ok", *, delay: float = 0) -> None:
        def resolver(host: str, port: int) -> list[str]:
            if delay:
                released.wait(delay)
            if host not in names:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return names[host]

        targets.configure(policy, resolver=resolver)

    targets.configure()
    yield install
    released.set()
    targets.configure()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A local TCP port whose server accepts every connection and never sends a byte on it."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    accepted: list[socket.socket] = []
    done = threading.Event()

    def accept_until_done() -> None:
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                accepted.append(server.accept()[0])

    accepting = threading.Thread(target=accept_until_done, daemon=True)
    accepting.start()
    yield server.getsockname()[1]
    done.set()
    accepting.join()
    server.close()
    for connection in accepted:
        connection.close()


@pytest.fixture(scope="session")
def ca() -> Any:
    """A private certificate authority (``trustme.CA``) to issue test servers' certificates."""
    import trustme  # a test dependency only

    return trustme.CA()


@pytest.fixture
def trusted_ca(ca: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``ca``, trusted the way an operator trusts a private CA: ``SSL_CERT_FILE``."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    targets.tls_context.cache_clear()
    yield ca
    targets.tls_context.cache_clear()


@dataclass(frozen=True)
class ReceivedRequest:
    """A request a :class:`Receiver` got: ``method`` (``POST``), ``path`` with its query string
    (``/hooks/ops?x=1``), ``headers`` with lower-case names, the raw ``body`` bytes, and ``at``,
    when it arrived (``time.time()``)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        """The body parsed as JSON; None for an empty body (a body that is not JSON raises ValueError)."""
        return json.loads(self.body) if self.body else None


class LocalHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server for tests, with a listen backlog a check process cannot overflow.

    socketserver's backlog is 5: 64 checks connecting at once overflowed it, and a SYN
    dropped on a loaded machine could take a check past its timeout.
    """

    request_queue_size = 128
    daemon_threads = True


class Receiver:
    """A local HTTP server standing in for a webhook (Slack, PagerDuty...): it records every request
    and answers as it is told, in order, then ``200``.

    ``answer(status, body, headers)`` queues an answer; ``hang()`` queues one that holds the
    request until :meth:`release` (or the receiver closes); ``wait_for(n)`` waits for ``n``
    requests. ``url`` is its base URL (``http://127.0.0.1:<port>``; any path under it is
    served), ``requests`` the :class:`ReceivedRequest` list so far, oldest first. It serves
    GET, POST and PUT.
    """

    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        self._answers: list[tuple[int, bytes, dict[str, str]] | None] = []
        self._changed = threading.Condition()
        self._released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received = ReceivedRequest(
                    self.command,
                    self.path,
                    {name.lower(): value for name, value in self.headers.items()},
                    self.rfile.read(length),
                    time.time(),
                )
                answer = receiver._next(received)
                if answer is None:
                    receiver._released.wait(60)
                    answer = (200, b"ok", {})
                status, body, headers = answer
                self.send_response(status)
                for name, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _handle

            def log_message(self, *args: object) -> None:
                pass

        self.server = LocalHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, status: int, body: str = "", headers: dict[str, str] | None = None, *, times: int = 1) -> None:
        self._answers.extend([(status, body.encode(), headers or {})] * times)

    def hang(self, *, times: int = 1) -> None:
        self._answers.extend([None] * times)

    def release(self) -> None:
        self._released.set()

    def _next(self, received: ReceivedRequest) -> tuple[int, bytes, dict[str, str]] | None:
        with self._changed:
            self.requests.append(received)
            self._changed.notify_all()
            return self._answers.pop(0) if self._answers else (200, b"ok", {})

    def wait_for(self, count: int, timeout: float = 15) -> list[ReceivedRequest]:
        """The first ``count`` requests, once they have come; fails the test if they do not in ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"{self.url} got {len(self.requests)} requests, not {count}, in {timeout} s")
                self._changed.wait(left)
            return list(self.requests[:count])

    def close(self) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()


#: When :func:`sample_notification`'s outage started.
SAMPLE_STARTED = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)


def sample_notification(kind: NotificationKind = "opened", **fields: Any) -> Notification:
    """A notification for channel-type tests: monitor "Shop API" (http, https://shop.example/health)
    down with "HTTP 503" since :data:`SAMPLE_STARTED`; ``fields`` replace any of its values.

    ``sample_notification("test")`` is a test message as the API sends it
    (:meth:`Notification.test_message`) for a channel named "Ops" of type ``webhook``.
    """
    if kind == "test":
        message = Notification.test_message(
            channel_name="Ops", channel_type="webhook", at=SAMPLE_STARTED, base_url="https://aloft.example"
        )
        return dataclasses.replace(message, **fields)
    values: dict[str, Any] = {
        "kind": kind,
        "at": SAMPLE_STARTED,
        "monitor_id": "m-1",
        "monitor_name": "Shop API",
        "monitor_type": "http",
        "monitor_target": "https://shop.example/health",
        "link": "https://aloft.example/monitors/m-1",
        "incident_id": "i-1",
        "cause": "HTTP 503",
        "started_at": SAMPLE_STARTED,
    }
    return Notification(**{**values, **fields})


@pytest.fixture
def closed_port() -> int:
    """A local TCP port nothing listens on: connecting to it is refused."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A :class:`Receiver`: a local webhook that records requests and answers as told."""
    server = Receiver()
    yield server
    server.close()


class SmtpServer:
    """A real SMTP server (aiosmtpd) on a free local port, with a certificate ``ca`` issues for ``name``.

    ``mode`` is ``starttls`` (STARTTLS required) or ``tls`` (implicit TLS). It accepts the
    login :attr:`USER` / :attr:`PASSWORD`; ``answers`` overrides its reply to ``RCPT`` or
    ``DATA`` (e.g. ``{"DATA": "451 4.3.0 Try again later"}``). :attr:`environment` holds the
    ``ALOFT_SMTP_*`` variables that point the ``email`` channel type at it.
    """

    USER, PASSWORD = "aloft", "s3cret"

    def __init__(self, ca: Any, *, mode: str = "starttls", name: str = "127.0.0.1") -> None:
        import ssl

        from aiosmtpd.controller import Controller  # a test dependency only

        self.mode = mode
        self.envelopes: list[Any] = []
        self.answers: dict[str, str] = {}
        self.tls_sessions: list[bool] = []
        self._changed = threading.Condition()
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(name).configure_cert(server_context)
        with socket.create_server(("127.0.0.1", 0)) as probe:
            self.port = probe.getsockname()[1]
        tls = (
            {"ssl_context": server_context}
            if mode == "tls"
            else {"tls_context": server_context, "require_starttls": True}
        )
        self._controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate,
            # aiosmtpd counts only STARTTLS as TLS; an implicit-TLS session is encrypted all the same.
            auth_require_tls=mode != "tls",
            server_hostname="127.0.0.1",
            **tls,
        )
        self._controller.start()

    @property
    def environment(self) -> dict[str, str]:
        return {
            "ALOFT_SMTP_HOST": "127.0.0.1",
            "ALOFT_SMTP_PORT": str(self.port),
            "ALOFT_SMTP_TLS": self.mode,
            "ALOFT_SMTP_USER": self.USER,
            "ALOFT_SMTP_PASSWORD": self.PASSWORD,
            "ALOFT_SMTP_FROM": "aloft@example.com",
        }

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult

        # handled=False: aiosmtpd answers a failure with 535 itself.
        ok = (auth_data.login, auth_data.password) == (self.USER.encode(), self.PASSWORD.encode())
        return AuthResult(success=ok, handled=False)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if "RCPT" in self.answers:
            return self.answers["RCPT"]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if "DATA" in self.answers:
            return self.answers["DATA"]
        with self._changed:
            self.tls_sessions.append(server.transport.get_extra_info("ssl_object") is not None)
            self.envelopes.append(envelope)
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def messages(self) -> list[Any]:
        """What arrived, as ``email.message.EmailMessage`` objects."""
        import email
        import email.policy

        with self._changed:
            return [email.message_from_bytes(e.content, policy=email.policy.default) for e in self.envelopes]

    def wait_for(self, count: int, timeout: float = 15) -> list[Any]:
        """The first ``count`` messages, once they have come; fails the test if they do not in ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.envelopes) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"the SMTP server got {len(self.envelopes)} messages, not {count}, in {timeout} s")
                self._changed.wait(left)
        return self.messages()[:count]

    def stop(self) -> None:
        self._controller.stop()


@pytest.fixture
def smtp_server(trusted_ca: Any) -> Iterator[SmtpServer]:
    """An :class:`SmtpServer` (STARTTLS) whose certificate this process trusts."""
    server = SmtpServer(trusted_ca)
    yield server
    server.stop()
