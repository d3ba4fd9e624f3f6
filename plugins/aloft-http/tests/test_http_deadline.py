"""The http check is over by its monitor's timeout whatever the server does: resolving, connecting,
the handshake, every header and body byte and every redirect hop share that one timeout."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import trustme
from aloft_http import HttpCheck

from aloft.checks import CheckResult, CheckTarget

#: How late a check that times out may end, past its timeout, on a loaded machine.
MARGIN_SECONDS = 1.5
ONE_MIB = 1024 * 1024


class Slow(BaseHTTPRequestHandler):
    """/headers: a header line every 1.5 s; /body: a byte of the body every 0.2 s; /hop/<n>: 0.9 s,
    then a redirect to /hop/<n - 1> (/ok after /hop/0); /big/<offset>: 1 MiB and 100 bytes with
    "needle" at ``offset``; /close: a body that ends when the server closes the connection; /ok: at once."""

    protocol_version = "HTTP/1.1"
    server: SlowServer

    def do_GET(self) -> None:
        path = self.path
        if path == "/headers":
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for line in range(8):
                if self.server.done.wait(1.5):
                    return
                self.wfile.write(f"X-Line-{line}: {line}\r\n".encode())
            self.wfile.write(b"Content-Length: 2\r\n\r\nok")
        elif path == "/body":
            body = b"." * 40 + b" all systems ok"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for byte in body:
                if self.server.done.wait(0.2):
                    return
                self.wfile.write(bytes([byte]))
        elif path.startswith("/hop/"):
            if self.server.done.wait(0.9):
                return
            left = int(path.removeprefix("/hop/"))
            self.send_response(302)
            self.send_header("Location", f"/hop/{left - 1}" if left else "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/close":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"." * 100_000 + b" all systems ok")
            self.close_connection = True
        elif path.startswith("/big/"):
            offset = int(path.removeprefix("/big/"))
            body = bytearray(b"a" * (ONE_MIB + 100))
            body[offset : offset + 6] = b"needle"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


class SlowServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Slow)
        #: Set when the test ends: every trickle stops.
        self.done = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a check that gave up closed the connection: what these tests want


@contextmanager
def serving(context: ssl.SSLContext | None = None) -> Iterator[str]:
    server = SlowServer()
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"{'https' if context else 'http'}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.done.set()
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serving() as base:
        yield base


# Every test starts under the default target policy and resolver (see aloft.testing).
pytestmark = pytest.mark.usefixtures("resolve_as")


def timed_check(url: str, timeout: int, **settings: Any) -> tuple[CheckResult, float]:
    """The result of checking ``url`` and how long the check took, in seconds."""
    target = CheckTarget(
        id="m1", name="site", type="http", url=url, timeout_seconds=timeout, interval_seconds=60, settings=settings
    )
    started = time.monotonic()
    result = HttpCheck().run(target)
    return result, time.monotonic() - started


def assert_timed_out(result: CheckResult, elapsed: float, timeout: int) -> None:
    assert (result.ok, result.cause) == (False, f"Timed out after {timeout}s")
    assert timeout <= elapsed < timeout + MARGIN_SECONDS


@pytest.fixture
def https_server(trusted_ca: trustme.CA) -> Iterator[str]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trusted_ca.issue_cert("127.0.0.1").configure_cert(context)
    with serving(context) as base:
        yield base


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_header_line_every_1_5_s_times_out_at_3_s_rather_than_being_up(request, scheme):
    base = request.getfixturevalue("server" if scheme == "http" else "https_server")
    result, elapsed = timed_check(f"{base}/headers", timeout=3)
    assert_timed_out(result, elapsed, 3)


def test_a_body_trickled_past_the_timeout_with_a_keyword_set_times_out(server):
    result, elapsed = timed_check(f"{server}/body", timeout=2, keyword="all systems ok")
    assert_timed_out(result, elapsed, 2)


def test_without_a_keyword_a_trickled_body_is_not_waited_for(server):
    result, elapsed = timed_check(f"{server}/body", timeout=2)
    assert result.ok and result.latency_ms < 2000
    assert elapsed < 1 + MARGIN_SECONDS


def test_redirect_hops_share_one_timeout(server):
    # Five hops of 0.9 s: each is well within 2 s, together they are not.
    result, elapsed = timed_check(f"{server}/hop/4", timeout=2)
    assert_timed_out(result, elapsed, 2)
    within = timed_check(f"{server}/hop/1", timeout=3)[0]
    assert within.ok and 1800 <= within.latency_ms < 3000


def test_a_server_that_accepts_and_never_answers_times_out(silent_port):
    result, elapsed = timed_check(f"http://127.0.0.1:{silent_port}/", timeout=1)
    assert_timed_out(result, elapsed, 1)


def test_an_https_server_that_never_completes_the_handshake_times_out(silent_port):
    result, elapsed = timed_check(f"https://127.0.0.1:{silent_port}/", timeout=1)
    assert_timed_out(result, elapsed, 1)


def test_a_resolver_that_does_not_answer_times_out(server, resolve_as):
    resolve_as({"slow.test": ["127.0.0.1"]}, delay=30)
    port = server.rpartition(":")[2]
    result, elapsed = timed_check(f"http://slow.test:{port}/ok", timeout=1)
    assert_timed_out(result, elapsed, 1)


def test_the_keyword_is_searched_for_in_the_first_mib_of_the_body(server):
    assert timed_check(f"{server}/big/{ONE_MIB - 6}", timeout=5, keyword="needle")[0].ok
    beyond = timed_check(f"{server}/big/{ONE_MIB}", timeout=5, keyword="needle")[0]
    assert (beyond.ok, beyond.cause) == (False, 'Keyword "needle" not found')


def test_a_body_that_ends_when_the_server_closes_the_connection_is_read_to_its_end(server):
    # http.client closes such a connection before its body is read; the paced socket must stay open.
    result, _ = timed_check(f"{server}/close", timeout=5, keyword="all systems ok")
    assert result.ok, result.cause


def test_a_trickling_server_is_recorded_down_timed_out_not_up(make_monitor, run_check, server):
    monitor = make_monitor("http", url=f"{server}/headers", timeoutSeconds=3, confirmationCount=1)
    started = time.monotonic()
    run = run_check(monitor["id"])
    assert time.monotonic() - started < 3 + MARGIN_SECONDS
    assert (run.result.ok, run.result.cause, run.status) == (False, "Timed out after 3s", "down")
