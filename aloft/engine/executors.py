"""Where batches run: on an in-process thread pool (embedded) or as RQ jobs (distributed).

Both run :func:`aloft.engine.jobs.run_batch`; only the transport differs.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from flask import Flask

from aloft.engine.jobs import run_batch
from aloft.engine.scheduler import Claim

log = logging.getLogger(__name__)

QUEUE_NAME = "aloft-checks"
#: A batch not started within this long is stale: the next claim checks the monitor anyway.
JOB_TTL_SECONDS = 600


class Executor(Protocol):
    def submit(self, batches: list[list[Claim]]) -> None: ...

    def close(self) -> None: ...


class EmbeddedExecutor:
    """Runs batches on threads of this process, inside the given app."""

    def __init__(self, app: Flask, workers: int = 4) -> None:
        self.app = app
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aloft-batch")
        self._pending: set[Future[object]] = set()
        self._lock = threading.Lock()

    def submit(self, batches: list[list[Claim]]) -> None:
        for batch in batches:
            future = self.pool.submit(self._run, [(claim.monitor_id, claim.slot_ms) for claim in batch])
            with self._lock:
                self._pending.add(future)
            future.add_done_callback(self._done)

    def _run(self, claims: list[tuple[str, int]]) -> object:
        with self.app.app_context():
            return run_batch(claims)

    def _done(self, future: Future[object]) -> None:
        with self._lock:
            self._pending.discard(future)
        if future.exception() is not None:
            log.error("a batch of checks failed", exc_info=future.exception())

    @property
    def backlog(self) -> int:
        with self._lock:
            return len(self._pending)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class RQExecutor:
    """Enqueues one RQ job per batch, all of a tick in one round trip (``enqueue_many``)."""

    def __init__(self, redis_url: str, queue_name: str = QUEUE_NAME) -> None:
        from rq import Queue

        from aloft.redis_connection import connect

        self.queue = Queue(queue_name, connection=connect(redis_url))

    def submit(self, batches: list[list[Claim]]) -> None:
        if not batches:
            return
        from rq import Queue

        jobs = [
            Queue.prepare_data(
                run_batch,
                args=([(claim.monitor_id, claim.slot_ms) for claim in batch],),
                ttl=JOB_TTL_SECONDS,
                result_ttl=0,
                failure_ttl=86400,
                timeout=120,
            )
            for batch in batches
        ]
        self.queue.enqueue_many(jobs)

    def close(self) -> None:
        self.queue.connection.close()
