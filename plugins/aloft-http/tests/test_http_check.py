"""The http check against real HTTP(S) servers on 127.0.0.1; other host names come from a fake resolver."""

from __future__ import annotations

import base64
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import unquote

import pytest
import trustme
from aloft_http import HttpCheck

from aloft.checks import CheckResult, CheckTarget

SLOW_SECONDS = 2


class Handler(BaseHTTPRequestHandler):
    """/ok, /status/<code>, /slow, /redirect/<n> (n more hops, then /ok), /goto?<location>, /echo, /headers.

    It keeps connections alive, as most servers do, and records the client port of each request.
    """

    protocol_version = "HTTP/1.1"
    client_ports: ClassVar[list[int]] = []

    def do_any(self) -> None:
        self.client_ports.append(self.client_address[1])
        path = self.path
        if path == "/ok":
            self.answer(200, b"all systems ok")
        elif path.startswith("/status/"):
            self.answer(int(path.removeprefix("/status/")), b"an error page")
        elif path == "/slow":
            time.sleep(SLOW_SECONDS)
            self.answer(200, b"late")
        elif path.startswith("/redirect/"):
            hops = int(path.removeprefix("/redirect/"))
            self.send_response(302)
            self.send_header("Location", f"/redirect/{hops - 1}" if hops else "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path.startswith("/goto?"):
            self.send_response(302)
            self.send_header("Location", unquote(path.partition("?")[2]))
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/echo":
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.answer(200, f"{self.command} {self.headers.get('X-Token')} ".encode() + body)
        elif path == "/headers":
            names = ("Host", "Authorization", "Cookie")
            self.answer(200, " ".join(f"{name.lower()}={self.headers.get(name)}" for name in names).encode())
        else:
            self.answer(404, b"not found")

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_any

    def answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a check that gave up closed the connection: not a failure of the test


@contextmanager
def serving(context: ssl.SSLContext | None = None) -> Iterator[str]:
    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scheme = "https" if context is not None else "http"
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serving() as base:
        yield base


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Every test starts under the default target policy and resolver (see aloft.testing).
pytestmark = pytest.mark.usefixtures("resolve_as")


def tls_context(ca: trustme.CA, host: str = "127.0.0.1", **validity: datetime) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(host, **validity).configure_cert(context)
    return context


def port_of(base: str) -> int:
    return int(base.rpartition(":")[2])


def check(url: str, timeout: int = 1, **settings: Any) -> CheckResult:
    target = CheckTarget(
        id="m1", name="site", type="http", url=url, timeout_seconds=timeout, interval_seconds=60, settings=settings
    )
    return HttpCheck().run(target)


def test_a_200_is_up_with_its_latency(server):
    result = check(f"{server}/ok")
    assert result.ok and result.cause is None
    assert result.latency_ms is not None and result.latency_ms > 0
    assert result.details == {"statusCode": 200}


def test_a_503_is_down_with_cause_http_503(server):
    result = check(f"{server}/status/503")
    assert not result.ok
    assert result.cause == "HTTP 503"
    assert result.details == {"statusCode": 503}


def test_expected_status_codes_can_make_a_404_up_and_a_200_down(server):
    assert check(f"{server}/status/404", expectedStatusCodes=["404"]).ok
    assert check(f"{server}/ok", expectedStatusCodes=["201-299", "304"]).cause == "HTTP 200"


def test_a_closed_port_is_down_with_cause_connection_refused(closed_port):
    result = check(f"http://127.0.0.1:{closed_port}/")
    assert not result.ok and result.cause == "Connection refused"


def test_a_server_slower_than_the_timeout_is_down_with_cause_timed_out(server):
    started = time.perf_counter()
    result = check(f"{server}/slow", timeout=1)
    assert not result.ok and result.cause == "Timed out after 1s"
    assert time.perf_counter() - started < SLOW_SECONDS


def test_a_name_that_does_not_resolve_is_down_with_cause_dns():
    result = check("http://no-such-host.invalid/")
    assert not result.ok and result.cause == "DNS: cannot resolve no-such-host.invalid"


def test_a_present_keyword_is_up_and_a_missing_one_is_down(server):
    assert check(f"{server}/ok", keyword="systems ok").ok
    missing = check(f"{server}/ok", keyword="healthy")
    assert not missing.ok and missing.cause == 'Keyword "healthy" not found'


def test_with_keyword_absent_a_present_keyword_is_down(server):
    found = check(f"{server}/ok", keyword="ok", keywordAbsent=True)
    assert not found.ok and found.cause == 'Keyword "ok" found'
    assert check(f"{server}/ok", keyword="error", keywordAbsent=True).ok


def test_a_bad_status_is_reported_before_the_keyword(server):
    assert check(f"{server}/status/500", keyword="healthy").cause == "HTTP 500"


def test_method_headers_and_body_reach_the_server(server):
    assert check(
        f"{server}/echo", method="PUT", headers={"X-Token": "t0k"}, body="payload", keyword="PUT t0k payload"
    ).ok


def test_redirects_are_followed_up_to_five(server):
    result = check(f"{server}/redirect/4")
    assert result.ok and result.details == {"statusCode": 200}


def test_a_sixth_redirect_is_down_with_cause_too_many_redirects(server):
    result = check(f"{server}/redirect/5")
    assert not result.ok and result.cause == "Too many redirects (max 5)"


def test_without_follow_redirects_the_redirect_itself_is_judged(server):
    assert check(f"{server}/redirect/0", followRedirects=False).details == {"statusCode": 302}
    assert check(f"{server}/redirect/0", followRedirects=False, expectedStatusCodes=["200"]).cause == "HTTP 302"


def test_a_valid_certificate_from_a_trusted_ca_is_up(trusted_ca):
    with serving(tls_context(trusted_ca)) as base:
        assert check(f"{base}/ok").ok


def test_an_expired_certificate_is_down_with_cause_tls_certificate_has_expired(trusted_ca):
    now = datetime.now(UTC)
    with serving(
        tls_context(trusted_ca, not_before=now - timedelta(days=30), not_after=now - timedelta(days=1))
    ) as base:
        result = check(f"{base}/ok")
    assert not result.ok and result.cause == "TLS: certificate has expired"


def test_an_untrusted_certificate_is_down_unless_verify_tls_is_off(ca):
    with serving(tls_context(ca)) as base:
        result = check(f"{base}/ok")
        assert not result.ok and result.cause == "TLS: certificate signed by an unknown authority"
        assert check(f"{base}/ok", verifyTls=False).ok


def test_tls_verifies_the_certificate_for_the_host_name_not_for_the_address_connected_to(trusted_ca, resolve_as):
    resolve_as({"app.test": ["127.0.0.1"]})
    with serving(tls_context(trusted_ca, "app.test")) as base:
        assert check(f"https://app.test:{port_of(base)}/ok").ok
    with serving(tls_context(trusted_ca, "other.test")) as base:
        result = check(f"https://app.test:{port_of(base)}/ok")
    assert not result.ok and result.cause == "TLS: certificate is not valid for app.test"


def test_every_check_opens_a_fresh_connection(server):
    assert check(f"{server}/ok").ok and check(f"{server}/ok").ok
    first, second = Handler.client_ports[-2:]
    assert first != second


def test_a_host_name_is_connected_to_its_vetted_address_and_sent_as_the_host_header(server, resolve_as):
    resolve_as({"app.test": ["127.0.0.1"]})
    port = port_of(server)
    assert check(f"http://app.test:{port}/headers", keyword=f"host=app.test:{port} ").ok


def test_a_redirect_to_a_host_resolving_to_cloud_metadata_is_refused_at_the_hop(server, resolve_as):
    resolve_as({"metadata.test": ["169.254.169.254"]})
    result = check(f"{server}/goto?http://metadata.test/latest/meta-data/")
    assert not result.ok
    assert result.cause == "Target refused by policy: 169.254.169.254 is link-local (cloud metadata)"


def test_a_host_resolving_to_an_allowed_and_a_refused_address_is_refused(server, resolve_as):
    resolve_as({"mixed.test": ["127.0.0.1", "169.254.169.254"]})
    result = check(f"http://mixed.test:{port_of(server)}/ok")
    assert not result.ok
    assert result.cause == "Target refused by policy: 169.254.169.254 is link-local (cloud metadata)"


def test_under_public_only_a_loopback_server_is_refused(server, resolve_as):
    resolve_as({}, policy="public-only")
    result = check(f"{server}/ok")
    assert not result.ok and result.cause == "Target refused by policy: 127.0.0.1 is loopback"


#: A globally routable address; :func:`public_internet` makes the test server answer on it.
PUBLIC_ADDRESS = "93.184.215.14"


@pytest.fixture
def public_internet(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stands in for the public internet (which tests cannot reach): a connection to
    ``PUBLIC_ADDRESS:80`` reaches the test server. Everything above the socket is Aloft's own."""
    local = ("127.0.0.1", port_of(server))
    connect = socket.socket.connect

    def connect_through_the_internet(sock: socket.socket, address: Any) -> None:
        return connect(sock, local if tuple(address[:2]) == (PUBLIC_ADDRESS, 80) else address)

    monkeypatch.setattr(socket.socket, "connect", connect_through_the_internet)


@pytest.mark.parametrize(
    ("location", "refusal"),
    [
        ("http://loopback.test:{port}/ok", "127.0.0.1 is loopback"),
        ("http://internal.test:{port}/ok", "10.0.0.5 is private (RFC 1918)"),
        ("http://127.0.0.1:{port}/ok", "127.0.0.1 is loopback"),
    ],
)
def test_under_public_only_a_redirect_from_a_public_name_to_a_private_address_is_refused_at_the_hop(
    server, resolve_as, public_internet, location, refusal
):
    resolve_as(
        {"public.test": [PUBLIC_ADDRESS], "loopback.test": ["127.0.0.1"], "internal.test": ["10.0.0.5"]},
        policy="public-only",
    )
    assert check("http://public.test/ok").ok, "the first hop, to a public address, is allowed"
    result = check(f"http://public.test/goto?{location.format(port=port_of(server))}")
    assert not result.ok and result.cause == f"Target refused by policy: {refusal}"


def test_a_redirect_to_another_origin_drops_authorization_and_cookie(server, resolve_as):
    resolve_as({"other.test": ["127.0.0.1"]})
    secrets = {"Authorization": "Bearer s3cret", "Cookie": "session=1"}
    assert check(f"{server}/goto?{server}/headers", headers=secrets, keyword="authorization=Bearer s3cret").ok
    elsewhere = f"http://other.test:{port_of(server)}/headers"
    assert check(f"{server}/goto?{elsewhere}", headers=secrets, keyword="authorization=None cookie=None").ok


def test_a_post_redirected_with_302_is_followed_with_a_get_without_the_body(server):
    assert check(f"{server}/goto?/echo", method="POST", body="payload", keyword="GET None ").ok


def test_user_and_password_in_the_url_are_sent_as_basic_authentication(server):
    token = base64.b64encode(b"monitor:p@ss").decode()
    url = server.replace("http://", "http://monitor:p%40ss@")
    assert check(f"{url}/headers", keyword=f"authorization=Basic {token}").ok


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "http://", "http://127.0.0.1:99999/", "127.0.0.1/ok"])
def test_an_unusable_url_is_down_with_cause_invalid_url(url):
    result = check(url)
    assert not result.ok and result.cause == f"Invalid URL: {url}"
