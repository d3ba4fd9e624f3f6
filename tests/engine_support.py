"""What the engine's end-to-end tests share: a target that can fail on demand, `aloft worker` processes, waiting."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from aloft.extensions import db
from aloft.testing import TEST_SECRET_KEY, LocalHTTPServer

#: Longest wait for something a worker does (it boots a Flask app first).
PATIENCE = 30.0


class Target:
    """A local HTTP server: answers 200, answers 503, or holds each request; can stop and start on one port."""

    def __init__(self) -> None:
        self.mode = "ok"
        #: Paths held whatever the mode.
        self.hanging: set[str] = set()
        self.arrivals: list[float] = []
        self.release = threading.Event()
        self.server = self._bind(0)
        self.port = self.server.server_address[1]

    def _bind(self, port: int) -> LocalHTTPServer:
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                target.arrivals.append(time.time())
                if target.mode == "hang" or self.path in target.hanging:
                    target.release.wait(20)
                status = 503 if target.mode == "fail" else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        server = LocalHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def start(self) -> None:
        self.server = self._bind(self.port)

    def close(self) -> None:
        self.release.set()
        self.stop()


class Workers:
    """`aloft worker` processes on the test database and this test's queue."""

    def __init__(self, tmp_path: Path, database_url: str, redis_url: str, queue_name: str, **environ: str) -> None:
        self.tmp_path = tmp_path
        self.queue_name = queue_name
        self.environ = {key: value for key, value in os.environ.items() if not key.startswith("ALOFT_")}
        self.environ.update(
            ALOFT_DATABASE_URL=database_url,
            ALOFT_REDIS_URL=redis_url,
            ALOFT_SECRET_KEY=TEST_SECRET_KEY,
            ALOFT_DATA_DIR=str(tmp_path / "worker-data"),
        )
        self.environ.update(environ)
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = open(self.tmp_path / f"worker-{len(self.processes)}.log", "wb")  # noqa: SIM115 - the child owns it
        process = subprocess.Popen(
            [sys.executable, "-m", "aloft", "worker", "--queue", self.queue_name],
            env=self.environ,
            cwd=self.tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.processes.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in sorted(self.tmp_path.glob("worker-*.log")))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for(what: str, condition: Callable[[], object], timeout: float = PATIENCE, workers: Workers | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()  # see what other processes committed since the last look
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    logs = f"\n--- worker logs ---\n{workers.logs()}" if workers is not None else ""
    raise AssertionError(f"timed out waiting for {what}{logs}")
