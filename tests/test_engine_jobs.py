"""Batches end to end: real HTTP servers, the embedded executor, the API showing the outcome."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from api_support import create_monitor
from sqlalchemy import func, select, update

from aloft.engine.executors import EmbeddedExecutor
from aloft.engine.jobs import run_batch
from aloft.engine.scheduler import Scheduler
from aloft.extensions import db
from aloft.models import CheckResult, Incident, Monitor


class Ok(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class Target:
    """A local HTTP server that can be stopped and started again on the same port."""

    def __init__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
        self.port = self.server.server_address[1]
        self._serve()

    def _serve(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def start(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Ok)
        self._serve()


@pytest.fixture
def target():
    server = Target()
    yield server
    server.stop()


def slots(start=1_800_000_000_000):
    slot = start
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
    db.session.execute(update(Monitor).values(next_check_ms=0))
    db.session.commit()
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
    assert set(db.session.scalars(select(Monitor.status))) == {"up"}
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0
    assert {row for row in db.session.scalars(select(CheckResult.monitor_id))} == set(ids)


def test_paused_monitors_are_not_checked(app, client, auth_headers, target):
    create_monitor(client, auth_headers, url=f"http://127.0.0.1:{target.port}/", paused=True)
    db.session.execute(update(Monitor).values(next_check_ms=0))
    db.session.commit()
    assert Scheduler(lambda: db.session, EmbeddedExecutor(app)).run_once() == 0
