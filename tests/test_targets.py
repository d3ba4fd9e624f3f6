"""The target policy: which resolved addresses checks may connect to, and connecting to them.

Host names come from a fake resolver (the public DNS cannot answer for them here); the
connections that are allowed are made to real listening sockets on 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
from collections.abc import Iterator

import pytest

from aloft import targets
from aloft.targets import HostNotFound, TargetPolicy, TargetRefused

PRIVATE_OK = TargetPolicy.PRIVATE_OK
PUBLIC_ONLY = TargetPolicy.PUBLIC_ONLY
METADATA_REFUSAL = "Target refused by policy: 169.254.169.254 is link-local (cloud metadata)"
MAPPED = str(ipaddress.ip_address("::ffff:10.0.0.1"))


def answering(*addresses: str) -> targets.Resolver:
    """A resolver that answers ``addresses`` for any host name."""
    return lambda host, port: list(addresses)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.2)
        yield server


@pytest.fixture
def configured() -> Iterator[None]:
    yield
    targets.configure()


@pytest.mark.parametrize(
    ("address", "policy", "refusal"),
    [
        ("169.254.169.254", PRIVATE_OK, METADATA_REFUSAL),
        ("127.0.0.1", PRIVATE_OK, None),
        ("::ffff:10.0.0.1", PRIVATE_OK, None),
        ("100.64.0.1", PRIVATE_OK, None),
        ("169.254.169.254", PUBLIC_ONLY, METADATA_REFUSAL),
        ("127.0.0.1", PUBLIC_ONLY, "Target refused by policy: 127.0.0.1 is loopback"),
        ("::ffff:10.0.0.1", PUBLIC_ONLY, f"Target refused by policy: {MAPPED} (10.0.0.1) is private (RFC 1918)"),
        ("100.64.0.1", PUBLIC_ONLY, "Target refused by policy: 100.64.0.1 is shared address space (CGNAT)"),
    ],
)
def test_a_name_is_refused_or_allowed_by_the_address_it_resolves_to(address, policy, refusal):
    resolver = answering(address)
    if refusal is None:
        assert targets.vetted_addresses("svc.test", 80, policy=policy, resolver=resolver) == [
            ipaddress.ip_address(address)
        ]
        return
    with pytest.raises(TargetRefused) as refused:
        targets.vetted_addresses("svc.test", 80, policy=policy, resolver=resolver)
    assert refused.value.message == refusal


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("fe80::1", "link-local"),
        ("169.254.1.1", "link-local"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("100.100.100.200", "a cloud metadata address"),
        ("::ffff:169.254.169.254", "link-local (cloud metadata)"),
        ("64:ff9b::a9fe:a9fe", "link-local (cloud metadata)"),
        ("2002:a9fe:a9fe::1", "link-local (cloud metadata)"),
    ],
)
def test_link_local_and_cloud_metadata_addresses_are_refused_under_every_policy(address, reason):
    for policy in TargetPolicy:
        with pytest.raises(TargetRefused, match=f" is {re.escape(reason)}$"):
            policy.check_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "::a9fe:a9fe",  # IPv4-compatible
        "::ffff:0:a9fe:a9fe",  # IPv4-translated
        "64:ff9b:1::a9fe:a9fe",  # local-use NAT64, /96 prefix
        "64:ff9b:1:a9fe:a9:fe00::",  # local-use NAT64, /48 prefix (RFC 6052)
        "64:ff9b:1:ffa9:fe:a9fe::",  # local-use NAT64, /56 prefix
        "64:ff9b:1:ffff:a9:fea9:fe00:0",  # local-use NAT64, /64 prefix
        "2001:0:4136:e378:8000:63bf:5601:5601",  # Teredo: client 169.254.169.254, inverted
        "2001:0:a9fe:a9fe::1",  # Teredo: server 169.254.169.254
    ],
)
def test_a_name_answering_an_ipv6_form_of_the_metadata_address_is_refused_under_every_policy(address):
    for policy in TargetPolicy:
        with pytest.raises(TargetRefused, match=r"\.254\) is link-local \(cloud metadata\)$"):
            targets.vetted_addresses("svc.test", 80, policy=policy, resolver=answering(address))


@pytest.mark.parametrize(
    "address",
    ["::a00:5", "::ffff:0:a00:5", "64:ff9b:1::a00:5", "2002:a00:5::1", "2001:0:4136:e378:8000:63bf:f5ff:fffa"],
)
def test_an_ipv6_form_of_a_private_address_is_judged_by_it(address):
    resolver = answering(address)
    assert targets.vetted_addresses("svc.test", 80, policy=PRIVATE_OK, resolver=resolver)
    with pytest.raises(TargetRefused, match=r"\(10\.0\.0\.5\) is private \(RFC 1918\)$"):
        targets.vetted_addresses("svc.test", 80, policy=PUBLIC_ONLY, resolver=resolver)


@pytest.mark.parametrize("address", ["64:ff9b:1::808:808", "2001:0:4136:e378:8000:63bf:f7f7:f7f7", "::808:808"])
def test_an_ipv6_form_of_a_public_address_is_allowed_under_public_only(address):
    PUBLIC_ONLY.check_address(address)


@pytest.mark.parametrize("host", ["2852039166", "0xa9fea9fe", "0251.0376.0251.0376", "169.254.43518"])
def test_shorthand_ipv4_is_an_address_judged_without_resolving(host):
    with pytest.raises(TargetRefused, match=r"^Target refused by policy: 169\.254\.169\.254 is link-local"):
        targets.vetted_addresses(host, 80, resolver=answering("127.0.0.1"))


def test_a_literal_refusal_names_the_policy_and_leaves_names_to_be_resolved():
    assert targets.literal_refusal("::a9fe:a9fe", PUBLIC_ONLY) == (
        "Target refused by policy public-only: ::a9fe:a9fe (169.254.169.254) is link-local (cloud metadata)"
    )
    assert targets.literal_refusal("metadata.google.internal") is None
    assert targets.literal_refusal("10.0.0.5") is None
    assert targets.literal_refusal(None) is None


@pytest.mark.parametrize("address", ["10.1.2.3", "192.168.0.10", "fd12::1", "0.0.0.0", "::1", "::ffff:127.0.0.1"])
def test_private_ok_allows_internal_addresses(address):
    PRIVATE_OK.check_address(address)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.1.2.3", "private (RFC 1918)"),
        ("172.16.0.1", "private (RFC 1918)"),
        ("fd12::1", "private (unique local)"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff0e::1", "multicast"),
        ("192.0.2.1", "reserved for documentation"),
        ("2001:db8::1", "reserved for documentation"),
        ("240.0.0.1", "reserved"),
        ("198.18.0.1", "not globally routable"),
        ("64:ff9b::a00:1", "private (RFC 1918)"),
    ],
)
def test_public_only_refuses_every_address_that_is_not_globally_routable(address, reason):
    with pytest.raises(TargetRefused, match=f" is {re.escape(reason)}$"):
        PUBLIC_ONLY.check_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_public_only_allows_public_addresses(address):
    PUBLIC_ONLY.check_address(address)


def test_a_name_with_an_allowed_and_a_refused_address_is_refused_without_connecting(listener):
    resolver = answering("127.0.0.1", "169.254.169.254")
    with pytest.raises(TargetRefused) as refused:
        targets.connect("mixed.test", listener.getsockname()[1], 1, policy=PRIVATE_OK, resolver=resolver)
    assert refused.value.message == METADATA_REFUSAL
    with pytest.raises(TimeoutError):
        listener.accept()


def test_connect_resolves_once_and_connects_to_the_vetted_address(listener):
    asked: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["127.0.0.1"]

    port = listener.getsockname()[1]
    with targets.connect("db.test", port, 1, policy=PRIVATE_OK, resolver=resolver) as connection:
        assert connection.getpeername() == ("127.0.0.1", port)
        assert connection.gettimeout() == 1
    assert asked == [("db.test", port)]


def test_an_address_given_as_the_host_is_vetted_without_resolving(listener):
    port = listener.getsockname()[1]
    with targets.connect("127.0.0.1", port, 1, policy=PRIVATE_OK, resolver=answering()) as connection:
        assert connection.getpeername()[0] == "127.0.0.1"
    with pytest.raises(TargetRefused, match=r"127\.0\.0\.1 is loopback"):
        targets.connect("127.0.0.1", port, 1, policy=PUBLIC_ONLY)


def test_a_name_without_addresses_is_host_not_found():
    def failing(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    for resolver in (failing, answering()):
        with pytest.raises(HostNotFound) as missing:
            targets.connect("db.internal", 5432, 1, resolver=resolver)
        assert missing.value.message == "DNS: cannot resolve db.internal"


def test_configure_sets_the_policy_later_connections_obey(listener, configured):
    port = listener.getsockname()[1]
    targets.configure("public-only", resolver=answering("127.0.0.1"))
    with pytest.raises(TargetRefused, match=r"127\.0\.0\.1 is loopback"):
        targets.connect("db.test", port, 1)
    targets.configure("private-ok", resolver=answering("127.0.0.1"))
    targets.connect("db.test", port, 1).close()


def test_configure_without_arguments_restores_private_ok_and_the_system_resolver(listener, configured):
    targets.configure("public-only", resolver=answering())
    targets.configure()
    targets.connect("localhost", listener.getsockname()[1], 1).close()
    with pytest.raises(TargetRefused, match="link-local"):
        targets.connect("169.254.169.254", 80, 1)


def test_a_closed_port_fails_with_connection_refused():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionRefusedError) as refused:
        targets.connect("127.0.0.1", port, 1, policy=PRIVATE_OK)
    assert targets.connection_failure(refused.value, "127.0.0.1", 1) == "Connection refused"


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (TargetRefused("Target refused by policy: x"), "Target refused by policy: x"),
        (HostNotFound("db.internal"), "DNS: cannot resolve db.internal"),
        (TimeoutError(), "Timed out after 3s"),
        (ConnectionResetError(), "Connection reset"),
        (OSError(101, "Network is unreachable"), "Connection failed: Network is unreachable"),
    ],
)
def test_connection_failures_read_as_causes(error, cause):
    assert targets.connection_failure(error, "db.internal", 3) == cause


def test_the_tls_context_is_built_once_and_verifies_host_names():
    context = targets.tls_context()
    assert targets.tls_context() is context
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("db.internal:5432", ("db.internal", 5432)),
        ("tcp://db.internal:5432", ("db.internal", 5432)),
        ("[::1]:5432", ("::1", 5432)),
        ("tcp://[::1]:5432", ("::1", 5432)),
    ],
)
def test_host_and_port_accepts_both_forms_and_bracketed_ipv6(text, expected):
    assert targets.host_and_port(text, "tcp") == expected


@pytest.mark.parametrize(
    "text", ["db.internal", "::1:5432", "db:0", "db:65536", "http://db:80", "user@db:5432", "db:5432/path", ""]
)
def test_host_and_port_refuses_anything_else_saying_what_is_expected(text):
    with pytest.raises(ValueError) as invalid:
        targets.host_and_port(text, "tcp")
    assert str(invalid.value) == (
        f"Invalid address {text!r}: expected host:port or tcp://host:port, "
        "with an IPv6 address in brackets ([::1]:5432)"
    )


def test_host_and_port_uses_the_default_port_when_there_is_one():
    assert targets.host_and_port("example.org", "https", 443) == ("example.org", 443)
    assert targets.host_and_port("https://example.org:8443/", "https", 443) == ("example.org", 8443)
