"""Batches end to end: real HTTP servers, the embedded executor, the API showing the outcome."""

import contextlib
import dataclasses
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from api_support import create_monitor
from sqlalchemy import event, func, select, text, update

from aloft import hookimpl
from aloft.checks import CheckTarget
from aloft.engine.executors import EmbeddedExecutor
from aloft.engine.jobs import BatchReport, run_batch
from aloft.engine.runner import Runner
from aloft.engine.scheduler import Scheduler, now_ms
from aloft.engine.state import IncidentEvent
from aloft.extensions import db
from aloft.models import CheckResult, Incident, Monitor
from aloft.testing import make_due


def slots(start=None):
    """Slots a minute apart, from an hour ago (stats count the past only)."""
    slot = now_ms() - 3_600_000 if start is None else start
    while True:
        yield slot
        slot += 60_000


def test_a_target_going_down_and_coming_back_opens_and_resolves_one_incident(client, auth_headers, target):
    monitor = create_monitor(client, auth_headers, url=f"http://127.0.0.1:{target.port}/", intervalSeconds=60)
    slot = slots()
    run = lambda: run_batch([(monitor["id"], next(slot))])  # noqa: E731

    assert run().recorded == 1
    assert client.get("/api/v1/status", headers=auth_headers).json["counts"]["up"] == 1

    target.stop()
    first, second, third = run(), run(), run()
    assert (first.opened, len(second.opened), third.opened) == ([], 1, [])
    status = client.get("/api/v1/status", headers=auth_headers).json
    assert status["counts"]["down"] == 1
    (incident,) = status["openIncidents"]
    assert incident["monitorId"] == monitor["id"] and incident["cause"] == "Connection refused"

    target.start()
    recovered = run()
    assert recovered.resolved == [incident["incidentId"]]
    assert client.get("/api/v1/status", headers=auth_headers).json["openIncidents"] == []
    detail = client.get(f"/api/v1/monitors/{monitor['id']}", headers=auth_headers).json
    assert detail["monitor"]["status"] == "up"
    assert [i["status"] for i in detail["recentIncidents"]] == ["resolved"]
    assert detail["stats"]["checks24h"] == 5


def test_replaying_a_batch_writes_nothing_twice(client, auth_headers, target):
    monitor = create_monitor(client, auth_headers, url=f"http://127.0.0.1:{target.port}/")
    batch = [(monitor["id"], 1_800_000_000_000)]
    assert run_batch(batch).recorded == 1
    replay = run_batch(batch)
    assert (replay.recorded, replay.skipped) == (0, 1)
    assert db.session.scalar(select(func.count()).select_from(CheckResult)) == 1


def test_the_scheduler_runs_due_checks_on_the_embedded_executor(app, client, auth_headers, target):
    ids = [
        create_monitor(client, auth_headers, name=f"m{i}", url=f"http://127.0.0.1:{target.port}/")["id"]
        for i in range(120)
    ]
    make_due()
    executor = EmbeddedExecutor(app)
    scheduler = Scheduler(lambda: db.session, executor)
    assert scheduler.run_once() == 120
    assert scheduler.run_once() == 0, "claimed checks are not due again within the interval"
    deadline = time.monotonic() + 30
    while executor.backlog and time.monotonic() < deadline:
        time.sleep(0.05)
    executor.close()
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(CheckResult)) == 120
    failures = db.session.scalars(select(CheckResult.cause).where(CheckResult.ok.is_(False))).all()
    assert set(db.session.scalars(select(Monitor.status))) == {"up"}, failures
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0
    assert {row for row in db.session.scalars(select(CheckResult.monitor_id))} == set(ids)


@contextlib.contextmanager
def results_locked():
    """Another connection holds what recording needs: the recorder waits until the block ends."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        other = sqlite3.connect(url.database, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    with db.engine.connect() as other:
        other.execute(text("LOCK TABLE check_results IN EXCLUSIVE MODE"))
        try:
            yield
        finally:
            other.rollback()


def submit_in_background(runner, claims):
    done = threading.Event()

    def submit():
        with runner.app.app_context():
            runner.submit(claims)
        done.set()

    threading.Thread(target=submit, daemon=True).start()
    return done


def test_the_runner_limits_checks_running_and_checks_in_hand_separately(app, client, auth_headers, target):
    url = f"http://127.0.0.1:{target.port}"
    held = [create_monitor(client, auth_headers, name=f"held{i}", url=f"{url}/held/{i}")["id"] for i in range(3)]
    fast = [create_monitor(client, auth_headers, name=f"fast{i}", url=f"{url}/fast/{i}")["id"] for i in range(6)]
    target.hanging.update(f"/held/{i}" for i in range(3))
    slot = now_ms() - 60_000
    runner = Runner(app, concurrency=4, max_running=2, max_in_flight=6).start()
    try:
        runner.submit([(held[0], slot), (held[1], slot)])
        third = submit_in_background(runner, [(held[2], slot)])
        assert not third.wait(1.0), "two checks were running: the third waits"
        target.hanging.clear()
        target.release.set()
        assert third.wait(10), "the held checks finished: the third was handed over"
        deadline = time.monotonic() + 10
        while runner.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runner.in_flight == 0

        with results_locked():
            # Finished checks that wait to be recorded do not count as running ...
            for monitor_id in fast:
                assert submit_in_background(runner, [(monitor_id, slot)]).wait(10)
            deadline = time.monotonic() + 10
            while len(target.arrivals) < 9 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(target.arrivals) == 9, "all six ran while none could be recorded"
            # ... but they are in hand: with six in hand, the next check waits.
            seventh = submit_in_background(runner, [(held[0], slot + 60_000)])
            assert not seventh.wait(1.0)
            assert runner.in_flight == 6
        assert seventh.wait(30), "once recorded, they made room"
    finally:
        runner.close()
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(CheckResult)) == 10


def test_paused_monitors_are_not_checked(app, client, auth_headers, target):
    create_monitor(client, auth_headers, url=f"http://127.0.0.1:{target.port}/", paused=True)
    make_due()
    executor = EmbeddedExecutor(app)
    try:
        assert Scheduler(lambda: db.session, executor).run_once() == 0
    finally:
        executor.close()


class Observer:
    """A plugin that records what the observer hooks hand it."""

    def __init__(self, fail=False):
        self.seen = []
        self.fail = fail

    @hookimpl
    def check_completed(self, monitor, result):
        self.seen.append(("checked", monitor, result))
        if self.fail:
            raise RuntimeError("observer bug")

    @hookimpl
    def incident_opened(self, incident):
        self.seen.append(("opened", incident))

    @hookimpl
    def incident_resolved(self, incident):
        self.seen.append(("resolved", incident))


@pytest.fixture
def observer(app):
    manager = app.extensions["aloft.plugins"].manager
    plugin = Observer()
    manager.register(plugin, name="test-observer")
    yield plugin
    manager.unregister(name="test-observer")


def test_observers_see_plain_values_never_database_objects(client, auth_headers, target, observer):
    monitor = create_monitor(
        client, auth_headers, name="Shop", url=f"http://127.0.0.1:{target.port}/", confirmationCount=1
    )
    target.stop()
    run_batch([(monitor["id"], 1_800_000_000_000)])
    target.start()
    run_batch([(monitor["id"], 1_800_000_060_000)])

    kinds = [event[0] for event in observer.seen]
    assert kinds == ["checked", "opened", "checked", "resolved"]
    _, checked, failed = observer.seen[0]
    assert isinstance(checked, CheckTarget) and checked.id == monitor["id"]
    assert failed.ok is False and failed.cause == "Connection refused"
    opened, resolved = observer.seen[1][1], observer.seen[3][1]
    assert isinstance(opened, IncidentEvent) and dataclasses.is_dataclass(opened)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opened.status = "resolved"
    started = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    assert opened == IncidentEvent(
        id=opened.id,
        monitor_id=monitor["id"],
        monitor_name="Shop",
        org_id=monitor_org(monitor["id"]),
        status="open",
        cause="Connection refused",
        started_at=started,
        resolved_at=None,
    )
    assert (resolved.id, resolved.status, resolved.resolved_at) == (
        opened.id,
        "resolved",
        started + timedelta(minutes=1),
    )


def monitor_org(monitor_id):
    return db.session.get(Monitor, monitor_id).org_id


def test_an_observer_that_raises_is_logged_and_the_results_are_kept(client, auth_headers, target, observer, caplog):
    observer.fail = True
    monitor = create_monitor(client, auth_headers, url=f"http://127.0.0.1:{target.port}/")
    assert run_batch([(monitor["id"], 1_800_000_000_000)]).recorded == 1
    assert "an observer plugin raised in check_completed" in caplog.text
    assert db.session.scalar(select(func.count()).select_from(CheckResult)) == 1


def test_a_batch_stores_its_results_with_one_insert(app, client, auth_headers, target):
    ids = [
        create_monitor(client, auth_headers, name=f"m{i}", url=f"http://127.0.0.1:{target.port}/")["id"]
        for i in range(30)
    ]
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        report = run_batch([(monitor_id, 1_800_000_000_000) for monitor_id in ids])
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert report.recorded == 30
    assert sum(statement.startswith("INSERT INTO check_results") for statement in statements) == 1


def test_a_monitor_paused_after_it_was_claimed_is_not_checked(client, auth_headers, target):
    monitor = create_monitor(client, auth_headers, url=f"http://127.0.0.1:{target.port}/")
    db.session.execute(update(Monitor).values(paused=True, status="paused"))
    db.session.commit()
    assert run_batch([(monitor["id"], 1_800_000_000_000)]) == BatchReport(skipped=1)
    assert db.session.scalar(select(func.count()).select_from(CheckResult)) == 0
