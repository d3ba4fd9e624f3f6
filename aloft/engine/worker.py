"""The ``aloft worker`` loop: RQ's in-process worker, carrying on through a Redis outage.

RQ retries a lost connection by itself while it waits for jobs, but it logs every retry,
backs off to a minute between them, and quits on a Redis error in the middle of a job (and
under ``aloft up`` a child that quits stops everything). Here the process logs one line when
Redis goes away (whichever call notices first) and one when it is back, retries every
:data:`RETRY_SECONDS`, and a worker that quit on a Redis error starts again once Redis answers.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker

from aloft.redis_connection import Reachability, reachability

#: Seconds between two tries at a Redis that went away.
RETRY_SECONDS = 2.0
REDIS_AWAY = "no checks are taken until it is back"
REDIS_BACK = "taking checks again"
#: The line RQ logs at every retry of a lost connection (rq.worker), with the error as its second argument.
RQ_RETRY_LINE = "Worker %s: could not connect to Redis instance: %s retrying in %d seconds..."


class Worker(SimpleWorker):
    """RQ's worker that runs jobs in this process, reporting Redis going and coming back to ``reachability``."""

    max_connection_wait_time = RETRY_SECONDS

    def __init__(self, *args: Any, reachability: Reachability, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reachability = reachability
        self.asked_to_stop = False

    def request_stop(self, signum: int, frame: Any) -> None:
        self.asked_to_stop = True
        super().request_stop(signum, frame)

    def heartbeat(self, *args: Any, **kwargs: Any) -> None:
        # Called before every wait for a job and after every job: the moment Redis is found back.
        try:
            super().heartbeat(*args, **kwargs)
        except RedisError as error:
            self.reachability.lost(error, REDIS_AWAY)
            raise
        self.reachability.regained(REDIS_BACK)


class RetriesAsOneLine(logging.Filter):
    """Drops RQ's line per retry of a lost connection, and its traceback when a Redis error made it
    quit; the reachability logs the first one, once."""

    def __init__(self, reachability: Reachability) -> None:
        super().__init__()
        self.reachability = reachability

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == RQ_RETRY_LINE and isinstance(record.args, tuple) and len(record.args) > 1:
            self.reachability.lost(record.args[1], REDIS_AWAY)  # type: ignore[arg-type]
            return False
        # RQ quits with a traceback when Redis goes away during its upkeep (cleaning registries,
        # say) rather than while it waits for a job; the loop in work() starts it again.
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, RedisError):
            self.reachability.lost(error, REDIS_AWAY)
            return False
        return True


def work(redis_url: str, connection: Redis, queue_name: str, *, burst: bool, logging_level: str) -> None:
    """Take check jobs from ``queue_name`` until asked to stop (or, with ``burst``, until it is empty)."""
    redis = reachability(redis_url)
    retries = RetriesAsOneLine(redis)
    logging.getLogger("rq.worker").addFilter(retries)
    try:
        while True:
            worker = Worker([Queue(queue_name, connection=connection)], connection=connection, reachability=redis)
            try:
                worker.work(burst=burst, with_scheduler=False, logging_level=logging_level)
            except RedisError as error:  # RQ could not even say goodbye to Redis
                redis.lost(error, REDIS_AWAY)
                if worker.pubsub_thread is not None:
                    worker.pubsub_thread.stop()
            # RQ quit on its own: start again if Redis went away, else stop as RQ meant to.
            if burst or worker.asked_to_stop or _answers(connection, redis) or not _wait_for(connection, redis):
                return
    finally:
        logging.getLogger("rq.worker").removeFilter(retries)


def _answers(connection: Redis, redis: Reachability) -> bool:
    try:
        connection.ping()
    except RedisError as error:
        redis.lost(error, REDIS_AWAY)
        return False
    redis.regained(REDIS_BACK)
    return True


def _wait_for(connection: Redis, redis: Reachability) -> bool:
    """Wait until Redis answers (True) or a SIGINT or SIGTERM asks to stop (False)."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(RETRY_SECONDS):
        if _answers(connection, redis):
            return True
    return False
