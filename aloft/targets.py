"""Connecting to what monitors watch, under ``ALOFT_TARGET_POLICY``.

A check never hands a host name to the network stack. :func:`connect` resolves the name
once, vets every address it resolves to against the policy in force, and connects to a
vetted address; resolving again at connect time would let a name answer differently the
second time (DNS rebinding). When any address of a name is refused, the whole name is
refused: trying only the allowed ones would let a hostile DNS server steer a check to the
refused one whenever the allowed ones fail.

Checks run under a :class:`~aloft.checks.Deadline`, and so does connecting: resolving a name
(on a few threads of its own, since ``getaddrinfo`` cannot be interrupted) and each address
tried get only the time left.

``create_app`` sets the policy with :func:`configure`; until then it is ``private-ok``.
"""

from __future__ import annotations

import io
import ipaddress
import os
import re
import socket
import ssl
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from typing import Any
from urllib.parse import urlsplit

import certifi

from aloft.deadlines import Deadline, timeout_cause

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``resolve(host, port)``: the addresses of ``host``, as strings; raises OSError when there are none.
Resolver = Callable[[str, int], list[str]]

#: Where clouds serve instance metadata and credentials; refused under every policy.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle
        "169.254.170.2",  # AWS ECS task credentials
        "169.254.170.23",  # AWS EKS pod identity
        "fd00:ec2::254",  # AWS instance metadata over IPv6
        "fd00:ec2::23",  # AWS EKS pod identity over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud Classic
    )
)
#: Non-global ranges ``public-only`` names in its refusals (loopback, multicast etc. are named by ipaddress).
NAMED_RANGES = tuple(
    (ipaddress.ip_network(network), kind)
    for network, kind in (
        ("100.64.0.0/10", "shared address space (CGNAT)"),
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("fc00::/7", "private (unique local)"),
        ("192.0.2.0/24", "reserved for documentation"),
        ("198.51.100.0/24", "reserved for documentation"),
        ("203.0.113.0/24", "reserved for documentation"),
        ("2001:db8::/32", "reserved for documentation"),
    )
)
#: IPv6 ranges whose last 32 bits are an IPv4 address (IPv4-mapped ones ipaddress knows itself).
IPV4_IN_LAST_32_BITS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "::/96",  # IPv4-compatible (deprecated; :: and ::1 excepted)
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
        "64:ff9b::/96",  # NAT64, well-known prefix
    )
)
#: Local-use NAT64 (RFC 8215): the IPv4 address may sit wherever RFC 6052 puts it for any prefix length.
LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")
#: Where RFC 6052 puts the IPv4 address for a /48, /56 and /64 prefix: bit ranges, counted from the left.
RFC6052_PLACEMENTS = (((48, 64), (72, 88)), ((56, 64), (72, 96)), ((72, 104),))
#: Host names the C library reads as IPv4 addresses in shorthand: numbers (decimal, octal, hex) and dots.
IPV4_SHORTHAND = re.compile(r"(?:0[xX][0-9a-fA-F]+|[0-9]+)(?:\.(?:0[xX][0-9a-fA-F]+|[0-9]+)){0,3}")
# X.509 verification results (OpenSSL X509_V_ERR_*) that all mean "no trusted CA signed this".
UNKNOWN_AUTHORITY = frozenset({18, 19, 20, 21})
HOSTNAME_MISMATCH = frozenset({62, 64})
#: Host names resolved at once, at most. A resolution that outlives its caller's deadline keeps
#: its thread until the system resolver gives up (seconds, tens of seconds when a DNS server is
#: gone), so these threads are few and shared by every check of the process.
RESOLVER_THREADS = 32


class TargetError(OSError):
    """No connection was attempted; ``message`` says why in words an operator can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TargetRefused(TargetError):
    """The target policy forbids connecting to an address the target resolves to."""


class HostNotFound(TargetError):
    """The target's host name does not resolve."""

    def __init__(self, host: str) -> None:
        super().__init__(f"DNS: cannot resolve {host}")


class TargetPolicy(StrEnum):
    """Which addresses checks may connect to: ``ALOFT_TARGET_POLICY``."""

    #: Internal hosts may be monitored; link-local and cloud-metadata addresses may not.
    PRIVATE_OK = "private-ok"
    #: Only globally routable addresses.
    PUBLIC_ONLY = "public-only"

    def check_address(self, address: str | IPAddress) -> None:
        """Raise :class:`TargetRefused` when this policy forbids connecting to ``address``.

        An IPv6 address that embeds IPv4 ones (``::ffff:10.0.0.1``, ``::a9fe:a9fe``, NAT64,
        6to4, Teredo...) is judged by the IPv4 addresses it carries: see :func:`_carried_ipv4`.
        """
        verdict = _verdict(self, _parse(address))
        if verdict is not None:
            raise TargetRefused(f"Target refused by policy: {verdict}")

    def _refusal(self, address: IPAddress) -> str | None:
        if address in METADATA_ADDRESSES:
            return "link-local (cloud metadata)" if address.is_link_local else "a cloud metadata address"
        if address.is_link_local:
            return "link-local"
        if self is TargetPolicy.PRIVATE_OK:
            return None
        if address.is_unspecified:
            return "unspecified"
        if address.is_loopback:
            return "loopback"
        if address.is_multicast:
            return "multicast"
        for network, kind in NAMED_RANGES:
            if address in network:
                return kind
        if address.is_reserved:
            return "reserved"
        return None if address.is_global else "not globally routable"


@lru_cache(maxsize=4096)
def _verdict(policy: TargetPolicy, address: IPAddress) -> str | None:
    """Why ``policy`` refuses ``address`` (``169.254.169.254 is link-local``), or None.

    A verdict depends on the policy and the address alone; checks ask again and again.
    """
    carried, possible = _carried_ipv4(address)
    judged_as = carried or [address]
    # What every policy refuses is looked for first, in all the address carries or may carry;
    # what it only may carry is not held to public-only's rules: those readings are mostly
    # arbitrary bits, and only the always-refused ranges matter there.
    judgements = [(judged, TargetPolicy.PRIVATE_OK) for judged in judged_as + possible]
    judgements += [(judged, policy) for judged in judged_as]
    for judged, judged_by in judgements:
        reason = judged_by._refusal(judged)
        if reason is not None:
            shown = str(address) if judged is address else f"{address} ({judged})"
            return f"{shown} is {reason}"
    return None


def literal_refusal(host: str | None, policy: TargetPolicy | None = None) -> str | None:
    """Why ``policy`` (default: the configured one) refuses ``host`` when it is an IP address
    written out, naming the policy; None when it is allowed or is a name (judged when resolved)."""
    address = _literal_address(host) if host else None
    if address is None:
        return None
    policy = _outbound.policy if policy is None else policy
    verdict = _verdict(policy, address)
    return None if verdict is None else f"Target refused by policy {policy.value}: {verdict}"


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the operating system's resolver gives ``host``, in its order of preference."""
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


@dataclass(frozen=True)
class _Outbound:
    policy: TargetPolicy
    resolver: Resolver


_outbound = _Outbound(TargetPolicy.PRIVATE_OK, system_resolver)


def configure(policy: str = TargetPolicy.PRIVATE_OK, resolver: Resolver = system_resolver) -> None:
    """Make every later connection of this process obey ``policy`` (a ``TargetPolicy`` name).

    ``resolver`` replaces the system's, for tests that need names the public DNS cannot have.
    """
    global _outbound
    _outbound = _Outbound(TargetPolicy(policy), resolver)


class Resolutions:
    """Host names resolved on at most ``threads`` threads of their own, so that callers can stop waiting.

    ``getaddrinfo`` cannot be interrupted: a caller with a deadline waits for the answer until
    then and gives up, and the resolution goes on without it. A name already being resolved is
    not resolved again: its callers share the answer, so a name whose DNS never answers holds
    one thread however many checks ask for it.
    """

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._lock = threading.Lock()
        self._waiting = threading.Condition(self._lock)
        self._in_flight: dict[tuple[Resolver, str, int], Future[list[str]]] = {}
        # Names no thread has taken yet; a thread counts as idle only while it waits for one, and
        # takes it under the same lock, so a name is never left queued behind a busy thread.
        self._asked: deque[tuple[Resolver, str, int]] = deque()
        self._started = self._idle = 0

    def resolve(self, resolver: Resolver, host: str, port: int, deadline: Deadline) -> list[str]:
        """``resolver(host, port)``, waited for until ``deadline``; raises TimeoutError then."""
        asked = (resolver, host, port)
        with self._lock:
            answer = self._in_flight.get(asked)
            if answer is None:
                answer = self._in_flight[asked] = Future()
                self._asked.append(asked)
                if len(self._asked) > self._idle and self._started < self.threads:
                    self._started += 1
                    threading.Thread(target=self._answer_forever, name="aloft-resolver", daemon=True).start()
                self._waiting.notify()
        return answer.result(timeout=deadline.remaining())

    def _answer_forever(self) -> None:
        while True:
            with self._waiting:
                self._idle += 1
                self._waiting.wait_for(lambda: self._asked)
                self._idle -= 1
                asked = self._asked.popleft()
            resolver, host, port = asked
            try:
                addresses = resolver(host, port)
                failure = None
            except Exception as error:  # handed to every caller waiting for this name
                failure = error
            with self._lock:
                answer = self._in_flight.pop(asked)
            if failure is None:
                answer.set_result(addresses)
            else:
                answer.set_exception(failure)


_resolutions = Resolutions(RESOLVER_THREADS)


def _forget_resolver_threads() -> None:
    # A forked child has none of its parent's threads: it starts its own.
    global _resolutions
    _resolutions = Resolutions(RESOLVER_THREADS)


os.register_at_fork(after_in_child=_forget_resolver_threads)


def vetted_addresses(
    host: str,
    port: int,
    *,
    policy: TargetPolicy | None = None,
    resolver: Resolver | None = None,
    deadline: Deadline | None = None,
) -> list[IPAddress]:
    """Resolve ``host`` once and return its addresses, all of them allowed by ``policy``.

    ``policy`` and ``resolver`` default to those :func:`configure` set. Raises
    :class:`HostNotFound` or, when any address is refused, :class:`TargetRefused`; with a
    ``deadline``, TimeoutError when the resolver has not answered by then.
    """
    outbound = _outbound
    policy = outbound.policy if policy is None else policy
    resolver = outbound.resolver if resolver is None else resolver
    literal = _literal_address(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            answers = resolver(host, port) if deadline is None else _resolutions.resolve(resolver, host, port, deadline)
        except TimeoutError:
            raise
        except (OSError, UnicodeError) as error:
            raise HostNotFound(host) from error
        if not answers:
            raise HostNotFound(host) from None
        addresses = list(dict.fromkeys(_parse(answer) for answer in answers))
    for address in addresses:
        policy.check_address(address)
    return addresses


def connect(
    host: str,
    port: int,
    timeout: float | Deadline,
    *,
    policy: TargetPolicy | None = None,
    resolver: Resolver | None = None,
) -> socket.socket:
    """A TCP connection to ``host``, made to an address the policy allows, within ``timeout``.

    ``timeout`` is seconds or a check's :class:`~aloft.checks.Deadline`: resolving ``host``
    and then each address tried, in the resolver's order, get only the time left. The socket
    keeps ``timeout`` seconds as the timeout of each later operation (with a deadline, what was
    left when connecting began: give each later step ``deadline.remaining()`` instead). Raises
    :class:`TargetError` before any connection is attempted, TimeoutError, or the last
    connection error.
    """
    deadline = timeout if isinstance(timeout, Deadline) else Deadline.after(timeout)
    addresses = vetted_addresses(host, port, policy=policy, resolver=resolver, deadline=deadline)
    failures: list[OSError] = []
    for address in addresses:
        if deadline.expired:
            break
        try:
            sock = _connect_to(address, port, deadline.remaining())
        except OSError as failure:
            failures.append(failure)
            continue
        if not isinstance(timeout, Deadline):
            sock.settimeout(timeout)
        return sock
    raise failures[-1] if failures else TimeoutError(f"timed out connecting to {host}")


def _connect_to(address: IPAddress, port: int, connect_timeout: float) -> socket.socket:
    # Connect to the IPv4 address a mapped one was judged by: it works without an IPv6 stack.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(connect_timeout)
        sock.connect((str(address), port))
    except BaseException:
        sock.close()
        raise
    return sock


class Paced:
    """A connection on which every read and write may take only what is left before ``deadline``.

    Hand it to :mod:`http.client` as a connection's ``sock``. http.client reads a response one
    ``recv`` at a time, and a socket's timeout bounds each ``recv`` alone: a server sending a
    header line a second would never trip it. Whoever opened the socket closes it.
    """

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        self.sock = sock
        self.deadline = deadline

    def sendall(self, data: bytes) -> None:
        # One sendall is bounded as a whole by the timeout it starts with.
        self.sock.settimeout(self.deadline.remaining())
        self.sock.sendall(data)

    def makefile(self, mode: str = "rb") -> io.BufferedReader:
        return io.BufferedReader(_PacedReader(self))

    def close(self) -> None:
        """Nothing: http.client closes a connection whose response says it will close before that
        response is read; the socket is closed by whoever opened it, once done with it."""


class _PacedReader(io.RawIOBase):
    """The reading end of a :class:`Paced` connection, for http.client's buffered response."""

    def __init__(self, connection: Paced) -> None:
        self.connection = connection

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        sock = self.connection.sock
        sock.settimeout(self.connection.deadline.remaining())
        return sock.recv_into(buffer)


@cache
def tls_context() -> ssl.SSLContext:
    """The verifying TLS client context all checks share.

    Built once per process (building one costs tens of milliseconds); every check still
    opens its own connection. It trusts certifi's CAs and the system's, including a private
    CA an operator adds with ``SSL_CERT_FILE`` or ``SSL_CERT_DIR``. Those variables are read
    when the context is built: a test that sets them calls ``tls_context.cache_clear()``
    before and after.
    """
    context = ssl.create_default_context(cafile=certifi.where())
    context.load_default_certs()
    return context


def connection_failure(error: OSError, host: str, timeout_seconds: float) -> str:
    """Why connecting to ``host`` (or talking TLS with it) failed, as a check's cause."""
    if isinstance(error, TargetError):
        return error.message
    if isinstance(error, ssl.SSLCertVerificationError):
        if error.verify_code in UNKNOWN_AUTHORITY:
            return "TLS: certificate signed by an unknown authority"
        if error.verify_code in HOSTNAME_MISMATCH:
            return f"TLS: certificate is not valid for {host}"
        return f"TLS: {error.verify_message}"
    if isinstance(error, ssl.SSLError):
        return f"TLS: {(error.reason or str(error)).lower().replace('_', ' ')}"
    if isinstance(error, ConnectionRefusedError):
        return "Connection refused"
    if isinstance(error, ConnectionResetError):
        return "Connection reset"
    if isinstance(error, TimeoutError):
        return timeout_cause(timeout_seconds)
    return f"Connection failed: {error.strerror or error}"


def host_and_port(text: str, scheme: str, default_port: int | None = None) -> tuple[str, int]:
    """Split ``host:port`` or ``<scheme>://host:port`` (an IPv6 address in brackets: ``[::1]:5432``).

    Without ``default_port`` the port is required. Raises ValueError with a message that
    says which forms are accepted.
    """
    port_part = ":port" if default_port is None else "[:port]"
    problem = (
        f"Invalid address {text!r}: expected host{port_part} or {scheme}://host{port_part}, "
        "with an IPv6 address in brackets ([::1]:5432)"
    )
    if "://" in text and not text.lower().startswith(f"{scheme}://"):
        raise ValueError(problem)
    try:
        parts = urlsplit(text if "://" in text else f"{scheme}://{text}")
        port = default_port if parts.port is None else parts.port
    except ValueError:
        raise ValueError(problem) from None
    extra = "@" in parts.netloc or parts.path not in ("", "/") or parts.query or parts.fragment
    if extra or not parts.hostname or not port:
        raise ValueError(problem)
    return parts.hostname, port


@lru_cache(maxsize=4096)
def _literal_address(host: str) -> IPAddress | None:
    """``host`` as an IP address, or None when it is a name to resolve.

    The shorthand forms the C library reads as IPv4 addresses count too (``2852039166``,
    ``0xa9fea9fe``, ``169.254.43518``): a resolver would answer them with that address.
    """
    try:
        return _parse(host)
    except ValueError:
        pass
    if not IPV4_SHORTHAND.fullmatch(host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _parse(address: str | IPAddress) -> IPAddress:
    if isinstance(address, str):
        # A scope ("fe80::1%eth0") only matters for link-local addresses, which are always refused.
        return ipaddress.ip_address(address.partition("%")[0])
    return address


def _carried_ipv4(address: IPAddress) -> tuple[list[ipaddress.IPv4Address], list[ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address carries (it is judged by them instead of itself), and
    those it may carry (judged too, by what every policy refuses).

    IPv4-mapped, IPv4-compatible, IPv4-translated and NAT64 addresses end in the IPv4 address;
    6to4 carries it after its prefix; Teredo carries its server's and its client's (inverted).
    A local-use NAT64 address carries one in its last 32 bits when its prefix is a /96, and
    may carry one where RFC 6052 puts it for a /48, /56 or /64 prefix.
    """
    if isinstance(address, ipaddress.IPv4Address):
        return [], []
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped], []
    last_32_bits = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if any(address in network for network in IPV4_IN_LAST_32_BITS):
        return ([last_32_bits] if int(address) > 1 else []), []
    if address in LOCAL_NAT64:
        return [last_32_bits], [_placed_ipv4(address, placement) for placement in RFC6052_PLACEMENTS]
    if address.teredo is not None:
        return list(address.teredo), []
    if address.sixtofour is not None:
        return [address.sixtofour], []
    return [], []


def _placed_ipv4(address: ipaddress.IPv6Address, placement: tuple[tuple[int, int], ...]) -> ipaddress.IPv4Address:
    """The IPv4 address made of ``address``'s bits in the ranges ``placement`` lists, in order."""
    value = 0
    for start, end in placement:
        value = value << (end - start) | (int(address) >> (128 - end)) & ((1 << (end - start)) - 1)
    return ipaddress.IPv4Address(value)
