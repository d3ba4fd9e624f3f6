"""Redis going away degrades Aloft, it does not stop it: a Redis server of the test's own is killed and started again.

While it is away the API answers (rate limits are counted in the data dir's file), ``/ready``
says why it is not ready, the scheduler keeps the checks it could not enqueue for later, and
each process logs one line when Redis goes and one when it is back, never a line per request
or per tick.
"""

from __future__ import annotations

import logging
import time

import pytest
from api_support import bearer, create_monitor
from engine_support import Workers, wait_for
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue
from sqlalchemy import select

from aloft.api.ratelimit_storage import REDIS_RETRY_SECONDS
from aloft.app import create_app
from aloft.engine.executors import RQExecutor
from aloft.engine.scheduler import Scheduler
from aloft.engine.worker import RETRY_SECONDS, RetriesAsOneLine
from aloft.extensions import db
from aloft.models import SCHEDULE_ID, CheckResult, Schedule
from aloft.redis_connection import Reachability, connect
from aloft.testing import issue_key, make_due, make_settings


def redis_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "aloft.redis_connection"]


def gone(lines: list[str]) -> list[str]:
    return [line for line in lines if "is unreachable" in line]


def back(lines: list[str]) -> list[str]:
    return [line for line in lines if "answers again" in line]


def test_the_api_answers_while_redis_is_away_and_counts_in_redis_again_once_it_is_back(
    app, org, own_redis, tmp_path, aloft_database_url, caplog
):
    caplog.set_level(logging.INFO)
    _, token = issue_key(app, org, "steady")
    settings = make_settings(tmp_path / "data", aloft_database_url, ALOFT_REDIS_URL=own_redis.url, ALOFT_RATE_LIMIT="5")
    first, second = create_app(settings).test_client(), create_app(settings).test_client()
    assert first.get("/api/v1/status", headers=bearer(token)).headers["X-RateLimit-Remaining"] == "4"

    own_redis.stop()
    monitor = create_monitor(second, bearer(token))
    answers = [(first, second)[i % 2].get(f"/api/v1/monitors/{monitor['id']}", headers=bearer(token)) for i in range(5)]
    assert [response.status_code for response in answers] == [200, 200, 200, 200, 429], "5 a minute, counted locally"
    assert [response.headers["X-RateLimit-Remaining"] for response in answers] == ["3", "2", "1", "0", "0"]
    ready = first.get("/api/v1/ready")
    assert ready.status_code == 503
    assert ready.json["status"] == "not ready"
    assert ready.json["error"].startswith("redis: ")
    lines = redis_lines(caplog)
    assert len(gone(lines)) == 1, lines
    assert f"rate limits are counted in {tmp_path / 'data' / 'ratelimits.db'}" in gone(lines)[0]
    assert not any(record.levelno >= logging.ERROR for record in caplog.records), "no traceback"

    own_redis.start()
    time.sleep(REDIS_RETRY_SECONDS + 0.2)
    # Redis came back empty: the count starts again there, and holds there again.
    codes = [(first, second)[i % 2].get("/api/v1/status", headers=bearer(token)).status_code for i in range(6)]
    assert codes == [200] * 5 + [429]
    assert first.get("/api/v1/ready").json == {"status": "ready"}
    keys = connect(own_redis.url).keys("*")
    assert len(keys) == 1 and b"aloft/key:" in keys[0], keys
    lines = redis_lines(caplog)
    assert (len(gone(lines)), len(back(lines))) == (1, 1), lines


def test_the_scheduler_keeps_the_checks_it_could_not_enqueue_and_hands_them_out_once_redis_is_back(
    app, client, auth_headers, own_redis, caplog
):
    caplog.set_level(logging.INFO)
    monitor = create_monitor(client, auth_headers, intervalSeconds=60)
    executor = RQExecutor(own_redis.url)
    scheduler = Scheduler(lambda: db.session, executor)
    queue = Queue("aloft-checks", connection=connect(own_redis.url))
    try:
        own_redis.stop()
        slot = make_due(monitor["id"])
        assert [scheduler.run_once() for _ in range(5)] == [0] * 5
        mark = db.session.scalar(select(Schedule.handed_out_until_ms).where(Schedule.id == SCHEDULE_ID))
        assert mark == slot - 1, "the stretch with the due check was given back, five times"
        lines = redis_lines(caplog)
        assert len(gone(lines)) == 1, lines
        assert not any(record.levelno >= logging.ERROR for record in caplog.records), "no traceback"

        own_redis.start()
        handed_out = 0
        for _ in range(20):  # the first try may meet a connection of the killed server
            handed_out = scheduler.run_once()
            if handed_out:
                break
            time.sleep(0.1)
        assert handed_out == 1
        (job,) = queue.get_jobs()
        assert job.args == ([(monitor["id"], slot)],), "the check due while Redis was away, at its slot"
        lines = redis_lines(caplog)
        assert (len(gone(lines)), len(back(lines))) == (1, 1), lines
    finally:
        executor.close()


def test_a_worker_says_once_that_redis_went_away_and_once_that_it_is_back_and_takes_checks_again(
    app, client, auth_headers, own_redis, tmp_path, aloft_database_url, target
):
    monitor = create_monitor(client, auth_headers, url=f"http://127.0.0.1:{target.port}/", intervalSeconds=60)
    workers = Workers(tmp_path, aloft_database_url, own_redis.url, "aloft-checks")
    executor = RQExecutor(own_redis.url)
    try:
        workers.start()
        wait_for("the worker to listen", lambda: "Listening on" in workers.logs(), workers=workers)
        own_redis.stop()
        wait_for("the worker to notice", lambda: "is unreachable" in workers.logs(), workers=workers)
        time.sleep(3 * RETRY_SECONDS)  # several of RQ's retries
        own_redis.start()
        wait_for("the worker to notice", lambda: "answers again" in workers.logs(), workers=workers)

        make_due(monitor["id"])
        scheduler = Scheduler(lambda: db.session, executor)
        wait_for("the check to be enqueued", scheduler.run_once, workers=workers)
        wait_for("the check to be recorded", lambda: db.session.scalars(select(CheckResult)).all(), workers=workers)
    finally:
        workers.stop()
        executor.close()
    lines = workers.logs().splitlines()
    assert len(gone(lines)) == 1, lines
    assert len(back(lines)) == 1, lines
    assert not [line for line in lines if "could not connect to Redis" in line or "Traceback" in line], "\n".join(lines)


def test_rq_quitting_on_a_redis_error_is_the_one_line_not_a_traceback(caplog):
    # RQ quits with a traceback when Redis goes away during its upkeep (cleaning registries)
    # rather than while it waits for a job; aloft worker starts it again, and says so once.
    redis = Reachability("redis://127.0.0.1:1/0")
    rq_log = logging.getLogger("rq.worker")
    rq_log.addFilter(RetriesAsOneLine(redis))
    try:
        with caplog.at_level(logging.INFO):
            for _ in range(2):
                try:
                    raise RedisConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")
                except RedisConnectionError:
                    rq_log.error("Worker %s: found an unhandled exception, quitting...", "w1", exc_info=True)
            rq_log.error(
                "Worker %s: found an unhandled exception, quitting...", "w1", exc_info=(KeyError, KeyError("x"), None)
            )
    finally:
        rq_log.filters.clear()
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "Redis at redis://127.0.0.1:1/0 is unreachable (Error 111 connecting to 127.0.0.1:1. Connection refused.); "
        "no checks are taken until it is back",
        "Worker w1: found an unhandled exception, quitting...",
    ], "one line for Redis, and any other error as RQ logs it"
