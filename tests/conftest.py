from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry, StartedJobRegistry
from werkzeug.serving import make_server

from aloft.redis_connection import connect

if TYPE_CHECKING:
    from engine_support import Target

pytest_plugins = ["aloft.testing"]


@pytest.fixture
def target() -> Iterator[Target]:
    """A local HTTP target that answers 200 (or 503, or hangs) and can stop and start on its port."""
    # Imported here: engine_support imports aloft.testing, which pytest must load first to rewrite its asserts.
    from engine_support import Target

    server = Target()
    yield server
    server.close()


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    """The app served on a free port of 127.0.0.1 (Werkzeug's server, on real sockets) for the test's duration."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    server.server_close()


@pytest.fixture
def queue_name(redis_url: str) -> Iterator[str]:
    """A queue of this test's own; every key RQ made for it is deleted afterwards."""
    name = f"aloft-checks-test-{secrets.token_hex(4)}"
    yield name
    connection = connect(redis_url)
    queue = Queue(name, connection=connection)
    for registry in (StartedJobRegistry(queue=queue), FailedJobRegistry(queue=queue)):
        for job_id in registry.get_job_ids(cleanup=False):
            connection.delete(Job.key_for(job_id))
    queue.delete(delete_jobs=True)
    for key in connection.scan_iter(match=f"rq:*{name}*"):
        connection.delete(key)
    connection.close()
