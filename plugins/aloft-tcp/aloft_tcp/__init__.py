"""The ``tcp`` check type: up when a TCP connection to ``host:port`` opens within the timeout."""

from __future__ import annotations

import time

import aloft
from aloft import targets
from aloft.checks import CheckResult, CheckTarget, CheckType, Deadline


class TcpCheck(CheckType):
    """Connect to the monitor's ``host:port``; the latency is the time to connect (DNS included)."""

    name = "tcp"
    description = "Open a TCP connection to host:port (or tcp://host:port); up when it opens within the timeout."
    requires_url = True

    @classmethod
    def validate_url(cls, url: str) -> str | None:
        try:
            targets.host_and_port(url, "tcp")
        except ValueError as invalid:
            return str(invalid)
        return None

    def run(self, monitor: CheckTarget) -> CheckResult:
        try:
            host, port = targets.host_and_port(monitor.url or "", "tcp")
        except ValueError as invalid:
            return CheckResult(False, cause=str(invalid))
        deadline = Deadline.of(monitor)
        started = time.perf_counter()
        try:
            with targets.connect(host, port, deadline) as connection:
                latency_ms = (time.perf_counter() - started) * 1000
                address = connection.getpeername()[0]
        except OSError as error:
            return CheckResult(False, cause=targets.connection_failure(error, host, monitor.timeout_seconds))
        return CheckResult(True, latency_ms, details={"address": address})


@aloft.hookimpl
def register_check_types() -> list[type[CheckType]]:
    return [TcpCheck]
