"""Distributed mode end to end: real Redis, real `aloft worker` processes, a real HTTP target.

The scheduler runs in the test process (``Scheduler.run_once`` or ``run`` with an
``RQExecutor``); the checks run in `aloft worker` subprocesses on the test database. Each
test uses a queue of its own in the test Redis database and deletes it afterwards.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import create_monitor
from engine_support import PATIENCE, Workers, wait_for
from flask import Flask
from rq import Queue
from sqlalchemy import select

from aloft.engine import scheduler as scheduling
from aloft.engine.executors import EmbeddedExecutor, RQExecutor
from aloft.engine.jobs import run_checks
from aloft.engine.scheduler import Scheduler, now_ms
from aloft.engine.state import slot_time
from aloft.extensions import db
from aloft.models import CheckResult, Incident, Monitor
from aloft.redis_connection import connect
from aloft.testing import make_due


@pytest.fixture
def workers(app: Flask, tmp_path: Path, aloft_database_url: str, redis_url: str, queue_name: str) -> Iterator[Workers]:
    pool = Workers(tmp_path, aloft_database_url, redis_url, queue_name)
    yield pool
    pool.stop()


def results(monitor_id: str) -> list[CheckResult]:
    return db.session.scalars(
        select(CheckResult).where(CheckResult.monitor_id == monitor_id).order_by(CheckResult.checked_at)
    ).all()


def incidents(monitor_id: str) -> list[Incident]:
    return db.session.scalars(select(Incident).where(Incident.monitor_id == monitor_id)).all()


@pytest.fixture(params=["embedded", "rq"])
def executor(request: pytest.FixtureRequest, app: Flask) -> Iterator[EmbeddedExecutor | RQExecutor]:
    """Each executor in turn; for RQ, two `aloft worker` processes take the jobs."""
    if request.param == "embedded":
        embedded = EmbeddedExecutor(app)
        yield embedded
        embedded.close()
        return
    workers = request.getfixturevalue("workers")
    workers.start()
    workers.start()
    distributed = RQExecutor(request.getfixturevalue("redis_url"), workers.queue_name)
    yield distributed
    distributed.close()


def test_both_executors_take_a_monitor_down_and_up_with_one_incident(client, auth_headers, target, executor):
    monitor = create_monitor(
        client, auth_headers, url=f"http://127.0.0.1:{target.port}/", intervalSeconds=60, confirmationCount=2
    )
    scheduler = Scheduler(lambda: db.session, executor)

    def cycle(expected_results: int) -> list[CheckResult]:
        make_due(monitor["id"])
        assert scheduler.run_once() == 1
        return wait_for(
            f"{expected_results} results", lambda: len(found := results(monitor["id"])) == expected_results and found
        )

    assert [row.ok for row in cycle(1)] == [True]
    target.stop()
    cycle(2)
    cycle(3)
    down = wait_for("the monitor down", lambda: db.session.get(Monitor, monitor["id"]).status == "down")
    assert down
    cycle(4)
    target.start()
    checked = cycle(5)

    assert [row.ok for row in checked] == [True, False, False, False, True]
    assert [row.cause for row in checked[1:4]] == ["Connection refused"] * 3
    assert len({row.checked_at for row in checked}) == 5
    (incident,) = incidents(monitor["id"])
    assert incident.cause == "Connection refused" and incident.status == "resolved"
    assert incident.started_at == checked[2].checked_at and incident.resolved_at == checked[4].checked_at
    assert db.session.get(Monitor, monitor["id"]).status == "up"


def test_a_host_that_never_answers_holds_back_no_other_check(client, auth_headers, target, executor):
    base = f"http://127.0.0.1:{target.port}"
    slow = create_monitor(client, auth_headers, url=f"{base}/slow", timeoutSeconds=5, confirmationCount=1)["id"]
    quick = [create_monitor(client, auth_headers, name=f"q{i}", url=f"{base}/{i}")["id"] for i in range(20)]
    target.hanging.add("/slow")
    make_due()
    assert Scheduler(lambda: db.session, executor).run_once() == 21, "one batch holds all 21 checks"

    wait_for("the quick checks", lambda: all(results(monitor_id) for monitor_id in quick))
    assert results(slow) == [], "the quick checks were recorded while the slow one still waited for its timeout"
    (timed_out,) = wait_for("the slow check", lambda: results(slow))
    assert timed_out.cause == "Timed out after 5s"
    assert db.session.get(Monitor, slow).status == "down"


def test_a_check_process_that_dies_is_replaced(app, client, auth_headers, target):
    monitor = create_monitor(client, auth_headers, url=f"http://127.0.0.1:{target.port}/", confirmationCount=1)
    executor = EmbeddedExecutor(app)
    scheduler = Scheduler(lambda: db.session, executor)
    try:
        target.mode = "hang"
        make_due(monitor["id"])
        assert scheduler.run_once() == 1
        wait_for("the check to reach the target", lambda: target.arrivals)
        first = executor.runner.process.pid
        os.kill(first, signal.SIGKILL)
        wait_for("the lost check to be given up", lambda: executor.backlog == 0)
        wait_for("a new check process", lambda: executor.runner.process.pid not in (None, first))
        assert results(monitor["id"]) == [], "the check died with its process"

        target.mode = "ok"
        make_due(monitor["id"])
        assert scheduler.run_once() == 1
        (checked,) = wait_for("the next check", lambda: results(monitor["id"]))
        assert checked.ok
    finally:
        executor.close()


def test_closing_records_the_checks_in_hand(app, client, auth_headers, target):
    monitor = create_monitor(client, auth_headers, url=f"http://127.0.0.1:{target.port}/")
    executor = EmbeddedExecutor(app)
    target.mode = "hang"
    make_due(monitor["id"])
    assert Scheduler(lambda: db.session, executor).run_once() == 1
    wait_for("the check to reach the target", lambda: target.arrivals)
    threading.Timer(1.0, target.release.set).start()
    executor.close()
    (checked,) = results(monitor["id"])
    assert checked.ok, "the answer that came while closing was recorded"


def test_many_monitors_in_many_jobs_are_shared_by_two_workers(
    client, auth_headers, target, workers, redis_url, monkeypatch
):
    ids = [
        create_monitor(client, auth_headers, name=f"m{i}", url=f"http://127.0.0.1:{target.port}/{i}")["id"]
        for i in range(40)
    ]
    monkeypatch.setattr(scheduling, "BATCH_SIZE", 5)
    first, second = workers.start(), workers.start()
    executor = RQExecutor(redis_url, workers.queue_name)
    make_due()
    assert Scheduler(lambda: db.session, executor).run_once() == 40
    executor.close()

    def every_monitor_is_up() -> bool:
        return set(db.session.scalars(select(Monitor.status))) == {"up"}

    wait_for("all 40 checks", every_monitor_is_up, workers=workers)
    assert sorted(db.session.scalars(select(CheckResult.monitor_id))) == sorted(ids)
    assert len(target.arrivals) == 40
    assert first.poll() is None and second.poll() is None


def test_a_worker_killed_mid_check_loses_one_cycle_and_replays_write_nothing_twice(
    app, client, auth_headers, target, workers, redis_url
):
    monitor = create_monitor(
        client,
        auth_headers,
        url=f"http://127.0.0.1:{target.port}/",
        intervalSeconds=10,
        timeoutSeconds=10,
        confirmationCount=1,
    )
    monitor_id = monitor["id"]
    interval_ms = 10_000
    target.mode = "hang"
    first_worker = workers.start()
    queue = Queue(workers.queue_name, connection=connect(redis_url))

    # The scheduler runs on its own, in real time, as `aloft scheduler` would.
    stop = threading.Event()

    def schedule() -> None:
        with app.app_context():
            Scheduler(lambda: db.session, RQExecutor(redis_url, workers.queue_name), tick=0.1).run(stop)

    first_slot = make_due(monitor_id, at_ms=now_ms() + 200)
    scheduler = threading.Thread(target=schedule)
    scheduler.start()
    try:
        wait_for("the first check to reach the target", lambda: target.arrivals, workers=workers)
        # The job handed the check to the worker's check process and is done; the check hangs there.
        first_worker.send_signal(signal.SIGKILL)
        first_worker.wait(timeout=10)
        killed_at = time.time()
        target.mode = "fail"
        workers.start()

        second_slot = first_slot + interval_ms
        (after_kill,) = wait_for(
            "the next cycle's result",
            lambda: results(monitor_id),
            timeout=interval_ms / 1000 + PATIENCE,
            workers=workers,
        )
        seen_at = time.time()
    finally:
        stop.set()
        scheduler.join()

    # (a) Checked again on the next slot, within one interval of the kill (plus the time to record it);
    # the killed worker's check died with it and wrote nothing.
    assert after_kill.checked_at == slot_time(second_slot)
    assert seen_at - killed_at < interval_ms / 1000 + 3
    # (b) The outage opened one incident.
    (incident,) = incidents(monitor_id)
    assert incident.status == "open" and incident.cause == "HTTP 503" and incident.started_at == slot_time(second_slot)
    assert queue.count == 0

    # (c) Replaying both slots' job: the lost slot is stored once, as history (no state change, no
    # new incident); the recorded one writes nothing twice.
    arrivals = len(target.arrivals)
    queue.enqueue(run_checks, [(monitor_id, second_slot), (monitor_id, first_slot)], result_ttl=60)
    wait_for("the replayed slot", lambda: len(results(monitor_id)) == 2, workers=workers)
    wait_for("both replayed checks", lambda: len(target.arrivals) == arrivals + 2, workers=workers)
    time.sleep(1)  # nothing more may arrive
    assert [(row.checked_at, row.cause) for row in results(monitor_id)] == [
        (slot_time(first_slot), "HTTP 503"),
        (slot_time(second_slot), "HTTP 503"),
    ]
    assert [row.id for row in incidents(monitor_id)] == [incident.id]
    assert db.session.get(Monitor, monitor_id).status == "down"
