"""Where batches go: to this process's check runner (embedded) or to RQ workers through Redis (distributed).

Both end in :func:`aloft.engine.jobs.run_checks`; only the transport differs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from flask import Flask
from redis.exceptions import RedisError

from aloft.engine.jobs import run_checks
from aloft.engine.runner import Runner
from aloft.engine.scheduler import Claim
from aloft.notify.dispatch import close_sender, send_deliveries, sender

QUEUE_NAME = "aloft-checks"
REDIS_AWAY = "due checks and notifications wait in the database until it is back"
REDIS_BACK = "handing out checks and notifications again"
#: A batch not started within this long is stale: the monitors' next slots are due by then.
JOB_TTL_SECONDS = 600


class Executor(Protocol):
    def submit(self, batches: list[list[Claim]]) -> bool:
        """Hand the batches over; False when they could not be (the scheduler claims them again later)."""
        ...

    def send(self, delivery_ids: list[str]) -> None: ...

    def close(self) -> None: ...


class EmbeddedExecutor:
    """Runs batches in a check process of this process's own (no Redis), recording them here.

    Must be used from a thread with an app context (the scheduler's): submitting reads the
    claimed monitors.
    """

    def __init__(self, app: Flask, *, concurrency: int | None = None) -> None:
        self.app = app
        self.runner = Runner(app, concurrency=concurrency).start()

    def submit(self, batches: list[list[Claim]]) -> bool:
        for batch in batches:
            self.runner.submit([(claim.monitor_id, claim.slot_ms) for claim in batch])
        return True

    def send(self, delivery_ids: list[str]) -> None:
        sender(self.app).submit(delivery_ids)

    @property
    def backlog(self) -> int:
        """Checks handed over and not yet recorded."""
        return self.runner.in_flight

    def close(self) -> None:
        self.runner.close()
        close_sender(self.app)


class RQExecutor:
    """Enqueues one RQ job per batch, all of a tick in one round trip (``enqueue_many``).

    While Redis is unreachable nothing can be enqueued: :meth:`submit` answers False (the
    scheduler gives the stretch back and claims it again) and due deliveries stay pending in
    the database for the next sweep. The process logs one line when Redis goes away and one
    when it is back, not a line per tick.
    """

    def __init__(self, redis_url: str, queue_name: str = QUEUE_NAME) -> None:
        from rq import Queue

        from aloft.redis_connection import connect, reachability

        self.queue = Queue(queue_name, connection=connect(redis_url))
        self.reachability = reachability(redis_url)

    def submit(self, batches: list[list[Claim]]) -> bool:
        if not batches:
            return True
        from rq import Queue

        jobs = [
            Queue.prepare_data(
                run_checks,
                args=([(claim.monitor_id, claim.slot_ms) for claim in batch],),
                ttl=JOB_TTL_SECONDS,
                result_ttl=0,
                failure_ttl=86400,
                timeout=120,
            )
            for batch in batches
        ]
        return self._enqueue(lambda: self.queue.enqueue_many(jobs))

    def send(self, delivery_ids: list[str]) -> None:
        """One job hands the deliveries to whichever worker takes it; a delivery sent twice is sent once."""
        if delivery_ids:
            self._enqueue(
                lambda: self.queue.enqueue(
                    send_deliveries, delivery_ids, ttl=JOB_TTL_SECONDS, result_ttl=0, failure_ttl=86400
                )
            )

    def _enqueue(self, enqueue: Callable[[], object]) -> bool:
        try:
            enqueue()
        except RedisError as error:
            self.reachability.lost(error, REDIS_AWAY)
            return False
        self.reachability.regained(REDIS_BACK)
        return True

    def close(self) -> None:
        self.queue.connection.close()
