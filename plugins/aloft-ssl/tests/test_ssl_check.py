"""The ssl check against a real TLS server on 127.0.0.1 presenting trustme certificates."""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trustme
from aloft_ssl import SslCheck
from cryptography import x509

from aloft.checks import CheckResult, CheckTarget
from aloft.times import isoformat_z

HOST = "cert.test"


def check(url: str, timeout: int = 2, **settings: Any) -> CheckResult:
    target = CheckTarget(
        id="m1", name="cert", type="ssl", url=url, timeout_seconds=timeout, interval_seconds=3600, settings=settings
    )
    return SslCheck().run(target)


@pytest.fixture(autouse=True)
def cert_test_resolves_locally(resolve_as: Callable[..., None]) -> None:
    """Every test starts with ``cert.test`` resolving to 127.0.0.1 under ``private-ok``."""
    resolve_as({HOST: ["127.0.0.1"]})


class Handshake(socketserver.BaseRequestHandler):
    """Shake hands, then wait for the client to hang up."""

    server: TlsServer

    def handle(self) -> None:
        try:
            with self.server.context.wrap_socket(self.request, server_side=True) as tls:
                tls.recv(1)
        except OSError:
            pass  # the client refused the certificate, or hung up without a TLS close


class TlsServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), Handshake)
        self.context = context


def issue(ca: trustme.CA, host: str = HOST, expires_in: timedelta = timedelta(days=90)) -> trustme.LeafCert:
    """A certificate for ``host`` signed by ``ca`` that expires in ``expires_in``."""
    now = datetime.now(UTC)
    return ca.issue_cert(host, not_before=min(now, now + expires_in) - timedelta(days=30), not_after=now + expires_in)


@contextmanager
def serving(leaf: trustme.LeafCert) -> Iterator[int]:
    """A TLS server on 127.0.0.1 presenting ``leaf``; yields its port."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    server = TlsServer(context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_a_valid_certificate_far_from_expiry_is_up_with_its_details(trusted_ca):
    leaf = issue(trusted_ca, expires_in=timedelta(days=90, hours=1))
    certificate = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())
    with serving(leaf) as port:
        result = check(f"{HOST}:{port}")
    assert result.ok and result.cause is None
    assert result.latency_ms is not None and result.latency_ms > 0
    assert result.details == {
        "issuer": x509.load_pem_x509_certificate(trusted_ca.cert_pem.bytes()).subject.rfc4514_string(),
        "subject": certificate.subject.rfc4514_string(),
        "notAfter": isoformat_z(certificate.not_valid_after_utc),
        "daysLeft": 90,
    }
    assert result.details["notAfter"].endswith(".000Z")


def test_the_https_form_is_accepted(trusted_ca):
    with serving(issue(trusted_ca)) as port:
        assert check(f"https://{HOST}:{port}/").ok


@pytest.mark.parametrize(
    ("expires_in", "cause"),
    [
        (timedelta(days=3, hours=1), "Certificate expires in 3 days"),
        (timedelta(days=1, hours=1), "Certificate expires in 1 day"),
        (timedelta(hours=5), "Certificate expires in less than a day"),
    ],
)
def test_a_certificate_expiring_within_the_threshold_is_down_with_the_time_left(trusted_ca, expires_in, cause):
    with serving(issue(trusted_ca, expires_in=expires_in)) as port:
        result = check(f"{HOST}:{port}")
    assert not result.ok and result.cause == cause
    assert result.details["daysLeft"] == expires_in.days


def test_the_expiry_threshold_is_a_setting(trusted_ca):
    with serving(issue(trusted_ca, expires_in=timedelta(days=3, hours=1))) as port:
        assert check(f"{HOST}:{port}", expiryThresholdDays=3).ok
        assert check(f"{HOST}:{port}", expiryThresholdDays=0).ok
        assert check(f"{HOST}:{port}", expiryThresholdDays=4).cause == "Certificate expires in 3 days"


def test_an_expired_certificate_is_down_with_cause_certificate_has_expired(trusted_ca):
    with serving(issue(trusted_ca, expires_in=timedelta(days=-1))) as port:
        result = check(f"{HOST}:{port}")
    assert not result.ok and result.cause == "TLS: certificate has expired"


def test_a_certificate_for_another_host_is_down_with_cause_not_valid_for_the_host(trusted_ca):
    with serving(issue(trusted_ca, host="other.test")) as port:
        result = check(f"{HOST}:{port}")
    assert not result.ok and result.cause == "TLS: certificate is not valid for cert.test"


def test_a_certificate_from_an_untrusted_ca_is_down_with_cause_unknown_authority(ca):
    with serving(issue(ca)) as port:
        result = check(f"{HOST}:{port}")
    assert not result.ok and result.cause == "TLS: certificate signed by an unknown authority"


def test_an_address_is_verified_against_the_certificate_too(trusted_ca):
    with serving(issue(trusted_ca, host="127.0.0.1")) as port:
        assert check(f"127.0.0.1:{port}").ok


def test_a_closed_port_is_down_with_cause_connection_refused():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    assert check(f"{HOST}:{port}").cause == "Connection refused"


def test_a_server_that_accepts_and_never_shakes_hands_is_down_with_cause_timed_out_at_the_timeout(silent_port):
    started = time.perf_counter()
    result = check(f"{HOST}:{silent_port}", timeout=1)
    assert not result.ok and result.cause == "Timed out after 1s"
    assert 1 <= time.perf_counter() - started < 2.5


def test_a_resolver_that_does_not_answer_is_down_with_cause_timed_out_at_the_timeout(resolve_as):
    resolve_as({HOST: ["127.0.0.1"]}, delay=30)
    started = time.perf_counter()
    result = check(f"{HOST}:443", timeout=1)
    assert not result.ok and result.cause == "Timed out after 1s"
    assert 1 <= time.perf_counter() - started < 2.5


def test_a_name_that_does_not_resolve_is_down_with_cause_dns():
    assert check("shop.internal").cause == "DNS: cannot resolve shop.internal"


def test_a_name_resolving_to_cloud_metadata_is_refused_without_a_handshake(resolve_as):
    resolve_as({"metadata.test": ["169.254.169.254"]})
    result = check("metadata.test")
    assert not result.ok
    assert result.cause == "Target refused by policy: 169.254.169.254 is link-local (cloud metadata)"


def test_under_public_only_a_loopback_server_is_refused(trusted_ca, resolve_as):
    resolve_as({HOST: ["127.0.0.1"]}, policy="public-only")
    with serving(issue(trusted_ca)) as port:
        result = check(f"{HOST}:{port}")
    assert not result.ok and result.cause == "Target refused by policy: 127.0.0.1 is loopback"


@pytest.mark.parametrize("url", ["http://cert.test", "cert.test:0", "cert.test/path", "::1"])
def test_a_url_that_is_not_an_address_is_down_saying_what_is_expected(url):
    result = check(url)
    assert not result.ok
    assert result.cause == (
        f"Invalid address {url!r}: expected host[:port] or https://host[:port], "
        "with an IPv6 address in brackets ([::1]:5432)"
    )
