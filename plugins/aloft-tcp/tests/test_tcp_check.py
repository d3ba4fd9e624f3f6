"""The tcp check against real sockets on 127.0.0.1; other host names come from a fake resolver."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from aloft_tcp import TcpCheck

from aloft.checks import CheckResult, CheckTarget


def check(url: str, timeout: int = 1) -> CheckResult:
    target = CheckTarget(
        id="m1", name="db", type="tcp", url=url, timeout_seconds=timeout, interval_seconds=60, settings={}
    )
    return TcpCheck().run(target)


# Every test starts under the default target policy and resolver (see aloft.testing).
pytestmark = pytest.mark.usefixtures("resolve_as")


@pytest.fixture
def port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A port whose listener never accepts and whose queue is full: new connections hang."""
    with ExitStack() as stack:
        server = stack.enter_context(socket.socket())
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        address = server.getsockname()
        for _ in range(8):
            client = stack.enter_context(socket.socket())
            client.settimeout(0.2)
            try:
                client.connect(address)
            except TimeoutError:
                break
        else:
            pytest.fail("the listen queue never filled up")
        yield address[1]


def test_an_open_port_is_up_with_its_connect_time(port):
    result = check(f"127.0.0.1:{port}")
    assert result.ok and result.cause is None
    assert result.latency_ms is not None and result.latency_ms > 0
    assert result.details == {"address": "127.0.0.1"}


def test_the_tcp_scheme_is_accepted(port):
    assert check(f"tcp://127.0.0.1:{port}").ok


def test_an_ipv6_address_in_brackets_is_connected_to():
    try:
        server = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:
        pytest.skip("this host has no IPv6 loopback")
    with server:
        result = check(f"[::1]:{server.getsockname()[1]}")
    assert result.ok and result.details == {"address": "::1"}


def test_a_host_name_is_connected_to_the_address_it_resolves_to(port, resolve_as):
    resolve_as({"db.test": ["127.0.0.1"]})
    assert check(f"db.test:{port}").ok


def test_a_closed_port_is_down_with_cause_connection_refused(closed_port):
    result = check(f"127.0.0.1:{closed_port}")
    assert not result.ok and result.cause == "Connection refused"


def test_a_port_that_does_not_answer_is_down_with_cause_timed_out(unanswered_port):
    started = time.perf_counter()
    result = check(f"127.0.0.1:{unanswered_port}", timeout=1)
    assert not result.ok and result.cause == "Timed out after 1s"
    assert time.perf_counter() - started < 2


def test_a_name_that_does_not_resolve_is_down_with_cause_dns(resolve_as):
    resolve_as({})
    result = check("db.internal:5432")
    assert not result.ok and result.cause == "DNS: cannot resolve db.internal"


def test_a_name_resolving_to_cloud_metadata_is_refused(resolve_as):
    resolve_as({"metadata.test": ["169.254.169.254"]})
    result = check("metadata.test:80")
    assert not result.ok
    assert result.cause == "Target refused by policy: 169.254.169.254 is link-local (cloud metadata)"


def test_under_public_only_a_private_address_is_refused(port, resolve_as):
    resolve_as({"db.test": ["::ffff:10.0.0.1"]}, policy="public-only")
    assert check("db.test:5432").cause.endswith("(10.0.0.1) is private (RFC 1918)")
    assert check(f"127.0.0.1:{port}").cause == "Target refused by policy: 127.0.0.1 is loopback"


@pytest.mark.parametrize("url", ["db.internal", "http://db.internal:80", "::1:5432", "db.internal:0"])
def test_a_url_that_is_not_host_and_port_is_down_saying_what_is_expected(url):
    result = check(url)
    assert not result.ok
    assert result.cause == (
        f"Invalid address {url!r}: expected host:port or tcp://host:port, with an IPv6 address in brackets ([::1]:5432)"
    )


def test_a_server_that_accepts_and_never_answers_is_up(silent_port):
    result = check(f"127.0.0.1:{silent_port}")
    assert result.ok and result.latency_ms < 1000


def test_a_resolver_that_does_not_answer_is_down_with_cause_timed_out_at_the_timeout(port, resolve_as):
    resolve_as({"db.test": ["127.0.0.1"]}, delay=30)
    started = time.perf_counter()
    result = check(f"db.test:{port}", timeout=1)
    assert not result.ok and result.cause == "Timed out after 1s"
    assert 1 <= time.perf_counter() - started < 2.5
