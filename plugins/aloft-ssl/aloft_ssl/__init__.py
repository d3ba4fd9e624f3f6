"""The ``ssl`` check type: a verified TLS handshake with a host, and how long its certificate has left.

The handshake uses the process-wide context of :func:`aloft.targets.tls_context`, over a
connection :func:`aloft.targets.connect` made to an address the target policy allows; it
checks the certificate chain and that the certificate is valid for the monitored host name.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from cryptography import x509
from marshmallow import RAISE, Schema, fields, validate

import aloft
from aloft import targets
from aloft.checks import CheckResult, CheckTarget, CheckType, Deadline
from aloft.times import isoformat_z

DEFAULT_PORT = 443
THRESHOLD_DAYS_RANGE = (0, 365)


class SslSettings(Schema):
    """Settings of an ``ssl`` monitor."""

    class Meta:
        unknown = RAISE

    expiry_threshold_days = fields.Integer(
        data_key="expiryThresholdDays",
        load_default=14,
        strict=True,
        validate=validate.Range(*THRESHOLD_DAYS_RANGE),
        metadata={"description": "Down when the certificate expires in fewer days than this, 0-365."},
    )


class SslCheck(CheckType):
    """Handshake with the monitor's ``host[:port]``; up while its certificate is valid, trusted and not expiring."""

    name = "ssl"
    description = "TLS handshake with host[:port]; down when the certificate is invalid, untrusted or expires soon."
    settings_schema = SslSettings
    requires_url = True

    @classmethod
    def validate_url(cls, url: str) -> str | None:
        try:
            targets.host_and_port(url, "https", DEFAULT_PORT)
        except ValueError as invalid:
            return str(invalid)
        return None

    def run(self, monitor: CheckTarget) -> CheckResult:
        options = self.load_settings(monitor.settings)
        try:
            host, port = targets.host_and_port(monitor.url or "", "https", DEFAULT_PORT)
        except ValueError as invalid:
            return CheckResult(False, cause=str(invalid))
        deadline = Deadline.of(monitor)
        started = time.perf_counter()
        try:
            with targets.connect(host, port, deadline) as connection:
                # The handshake gets what resolving and connecting left; it is bounded as a whole by that timeout.
                connection.settimeout(deadline.remaining())
                with targets.tls_context().wrap_socket(connection, server_hostname=host) as tls:
                    latency_ms = (time.perf_counter() - started) * 1000
                    der = tls.getpeercert(binary_form=True)
        except OSError as error:
            return CheckResult(False, cause=targets.connection_failure(error, host, monitor.timeout_seconds))
        return judge(x509.load_der_x509_certificate(der), options["expiry_threshold_days"], latency_ms)


def judge(certificate: x509.Certificate, threshold_days: int, latency_ms: float) -> CheckResult:
    """Up unless ``certificate`` (already verified) expires in fewer than ``threshold_days`` days."""
    not_after = certificate.not_valid_after_utc
    left = not_after - datetime.now(UTC)
    details = {
        "issuer": certificate.issuer.rfc4514_string(),
        "subject": certificate.subject.rfc4514_string(),
        "notAfter": isoformat_z(not_after),
        "daysLeft": left.days,
    }
    if left < timedelta(days=threshold_days):
        return CheckResult(False, latency_ms, f"Certificate expires in {_days(left)}", details)
    return CheckResult(True, latency_ms, details=details)


def _days(left: timedelta) -> str:
    if left.days < 1:
        return "less than a day"
    return "1 day" if left.days == 1 else f"{left.days} days"


@aloft.hookimpl
def register_check_types() -> list[type[CheckType]]:
    return [SslCheck]
