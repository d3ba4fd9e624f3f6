"""Rate limits under `aloft up` with its default web workers: real gunicorn processes, one count between them.

Requests go concurrently on fresh connections, so both workers serve them; with each worker
counting on its own, twice the limit would pass. Runs with the counts in the data dir's file
and in a Redis server of the test's own.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from aloft.testing import RedisServer, unavailable

LIMIT = 40


class Up:
    """`aloft up` in a data dir of its own, with the default number of web workers."""

    def __init__(self, tmp_path: Path, **variables: str) -> None:
        with socket.create_server(("127.0.0.1", 0)) as probe:
            self.port = probe.getsockname()[1]
        environment = {name: value for name, value in os.environ.items() if not name.startswith("ALOFT_")}
        environment |= {"ALOFT_DATA_DIR": str(tmp_path / "data"), "ALOFT_RATE_LIMIT": str(LIMIT), **variables}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aloft", "up", "--port", str(self.port)],
            env=environment,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        deadline = time.monotonic() + 90
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("Aloft is up at") or time.monotonic() > deadline:
                break
        assert any(line.startswith("Aloft is up at") for line in self.lines), "\n".join(self.lines)
        (self.token,) = [line.strip() for line in self.lines if line.strip().startswith("ur_")]

    def request(
        self, method: str, path: str, *, token: str | None = None, body: dict | None = None, source: str = "127.0.0.1"
    ) -> tuple[int, dict[str, str], bytes]:
        """One request on a connection of its own, from the loopback address ``source``."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30, source_address=(source, 0))
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def concurrently(self, requests: list[tuple[str, str, dict]]) -> Counter[int]:
        """Send ``(method, path, options)`` requests from 8 threads at once; count the answers' status codes."""
        with ThreadPoolExecutor(8) as pool:
            answers = pool.map(lambda each: self.request(each[0], each[1], **each[2])[0], requests)
            return Counter(answers)

    def stop(self) -> str:
        self.process.send_signal(signal.SIGINT)
        try:
            output, _ = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        return "\n".join(self.lines) + "\n" + output


@pytest.fixture(scope="module", params=["data dir", "redis"])
def up(request, tmp_path_factory) -> Iterator[Up]:
    """One `aloft up` for the module's tests (each uses a count of its own), with or without a Redis of its own."""
    directory = tmp_path_factory.mktemp("up")
    variables = {}
    redis = None
    if request.param == "redis":
        if shutil.which("redis-server") is None:
            unavailable("redis-server is not installed (apt-get install redis-server)")
        redis = RedisServer(directory)
        redis.start()
        variables["ALOFT_REDIS_URL"] = redis.url
    try:
        server = Up(directory, **variables)
        yield server
        output = server.stop()
        assert output.count("Booting worker with pid") == 2, "aloft up's default is two web workers"
    finally:
        if redis is not None:
            redis.stop()


def test_one_key_gets_exactly_its_limit_across_routes_and_workers(up):
    status, _, body = up.request("POST", "/api/v1/keys", token=up.token, body={"name": "busy"})
    assert status == 201, body
    token = json.loads(body)["key"]["token"]
    paths = ["/api/v1/status", "/api/v1/monitors", "/api/v1/keys"]
    codes = up.concurrently([("GET", paths[i % 3], {"token": token}) for i in range(LIMIT + 10)])
    assert codes == {200: LIMIT, 429: 10}


def test_one_ping_token_gets_60_a_minute_across_its_routes_and_workers(up):
    status, _, body = up.request(
        "POST", "/api/v1/monitors", token=up.token, body={"name": "nightly", "type": "heartbeat"}
    )
    assert status == 201, body
    ping_path = "/heartbeat/" + json.loads(body)["monitor"]["pingUrl"].rsplit("/heartbeat/", 1)[1]
    suffixes = ["", "/start", "/fail"]
    codes = up.concurrently([("POST", ping_path + suffixes[i % 3], {}) for i in range(70)])
    assert codes == {200: 60, 429: 10}


def test_unknown_ping_tokens_get_20_a_minute_per_client_ip_across_workers(up):
    source = f"127.{secrets.randbelow(250) + 1}.{secrets.randbelow(256)}.{secrets.randbelow(250) + 2}"
    guesses = [("GET", f"/heartbeat/{secrets.token_urlsafe(24)}", {"source": source}) for _ in range(25)]
    assert up.concurrently(guesses) == {404: 20, 429: 5}
    assert up.request("GET", f"/heartbeat/{secrets.token_urlsafe(24)}")[0] == 404, "another address"
