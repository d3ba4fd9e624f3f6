"""The ``http`` check type: request a URL and judge the status code and, optionally, the body."""

from __future__ import annotations

import re
import socket
import ssl
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import requests
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from urllib3.exceptions import NameResolutionError

import aloft
from aloft.checks import CheckResult, CheckTarget, CheckType

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MAX_REDIRECTS = 5
# The keyword is searched for in this much of the body; the rest is not downloaded.
MAX_BODY_BYTES = 5 * 1024 * 1024
STATUS_CODES_PATTERN = r"^[1-5][0-9]{2}(-[1-5][0-9]{2})?$"
USER_AGENT = f"Aloft/{aloft.__version__} (uptime check)"


def status_ranges(codes: list[str]) -> list[tuple[int, int]]:
    """Parse ``["200-299", "304"]`` into inclusive ``(low, high)`` ranges."""
    ranges = []
    for code in codes:
        low, _, high = code.partition("-")
        ranges.append((int(low), int(high or low)))
    return ranges


def _ascending(codes: list[str]) -> None:
    for code, (low, high) in zip(codes, status_ranges(codes), strict=True):
        if low > high:
            raise ValidationError(f"Range {code!r} ends before it starts.")


class HttpSettings(Schema):
    """Settings of an ``http`` monitor."""

    class Meta:
        unknown = RAISE

    method = fields.String(load_default="GET", validate=validate.OneOf(METHODS))
    headers = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    body = fields.String(metadata={"description": "Request body, sent as is."})
    expected_status_codes = fields.List(
        fields.String(
            validate=validate.Regexp(
                STATUS_CODES_PATTERN, error='Must be a status code such as "204" or a range such as "200-399".'
            )
        ),
        data_key="expectedStatusCodes",
        load_default=lambda: ["200-399"],
        validate=[validate.Length(min=1), _ascending],
        metadata={"description": 'Codes ("204") or inclusive ranges ("200-399") that mean up.'},
    )
    keyword = fields.String(
        validate=validate.Length(min=1),
        metadata={"description": "Text the body must contain (or, with keywordAbsent, must not)."},
    )
    keyword_absent = fields.Boolean(data_key="keywordAbsent", load_default=False)
    follow_redirects = fields.Boolean(
        data_key="followRedirects",
        load_default=True,
        metadata={"description": f"Follow up to {MAX_REDIRECTS} redirects."},
    )
    verify_tls = fields.Boolean(data_key="verifyTls", load_default=True)

    @validates_schema
    def keyword_absent_needs_a_keyword(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("keyword_absent") and not data.get("keyword"):
            raise ValidationError("Set keyword to say which text must be absent.", "keywordAbsent")


class HttpCheck(CheckType):
    """Request the monitor's URL; up when the status is expected and the keyword test passes."""

    name = "http"
    description = "Request a URL; check the status code and optionally a keyword in the body."
    settings_schema = HttpSettings
    requires_url = True

    def run(self, monitor: CheckTarget) -> CheckResult:
        options = HttpSettings().load(monitor.settings)
        expected = status_ranges(options["expected_status_codes"])
        body = options.get("body")
        started = time.perf_counter()
        deadline = started + monitor.timeout_seconds
        try:
            # A session per check: no connection outlives the check that opened it.
            with requests.Session() as session:
                session.max_redirects = MAX_REDIRECTS
                with session.request(
                    options["method"],
                    monitor.url,
                    headers={"User-Agent": USER_AGENT, **options["headers"]},
                    data=None if body is None else body.encode(),
                    timeout=monitor.timeout_seconds,
                    allow_redirects=options["follow_redirects"],
                    verify=options["verify_tls"],
                    stream=True,
                ) as response:
                    latency_ms = (time.perf_counter() - started) * 1000
                    details = {"statusCode": response.status_code}
                    if not any(low <= response.status_code <= high for low, high in expected):
                        return CheckResult(False, latency_ms, f"HTTP {response.status_code}", details)
                    if "keyword" not in options:
                        return CheckResult(True, latency_ms, details=details)
                    text = _read_body(response, deadline)
        except requests.RequestException as error:
            return CheckResult(False, cause=_cause(error, monitor))
        except TimeoutError:
            return CheckResult(False, cause=f"Timed out after {monitor.timeout_seconds}s")
        return _keyword_result(text, options["keyword"], options["keyword_absent"], latency_ms, details)


def _read_body(response: requests.Response, deadline: float) -> str:
    """The start of the body, decoded; raises TimeoutError once the check's time is up."""
    received = bytearray()
    for chunk in response.iter_content(64 * 1024):
        received += chunk
        if time.perf_counter() > deadline:
            raise TimeoutError
        if len(received) >= MAX_BODY_BYTES:
            break
    return received[:MAX_BODY_BYTES].decode(response.encoding or "utf-8", errors="replace")


def _keyword_result(
    body: str, keyword: str, must_be_absent: bool, latency_ms: float, details: dict[str, Any]
) -> CheckResult:
    present = keyword in body
    if must_be_absent and present:
        return CheckResult(False, latency_ms, f'Keyword "{keyword}" found', details)
    if not must_be_absent and not present:
        return CheckResult(False, latency_ms, f'Keyword "{keyword}" not found', details)
    return CheckResult(True, latency_ms, details=details)


def _cause(error: requests.RequestException, monitor: CheckTarget) -> str:
    """Say why the request failed in words an operator can act on."""
    if isinstance(error, requests.TooManyRedirects):
        return f"Too many redirects (max {MAX_REDIRECTS})"
    if isinstance(error, requests.Timeout):
        return f"Timed out after {monitor.timeout_seconds}s"
    if isinstance(
        error, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema | requests.exceptions.InvalidSchema
    ):
        return f"Invalid URL: {monitor.url}"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return "Connection broken while reading the response"
    causes = list(_chain(error))
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS: {cause.verify_message}"
    for cause in causes:
        if isinstance(cause, ssl.SSLError):
            return f"TLS: {(cause.reason or str(cause)).lower().replace('_', ' ')}"
    for cause in causes:
        if isinstance(cause, ConnectionRefusedError):
            return "Connection refused"
        if isinstance(cause, ConnectionResetError):
            return "Connection reset"
        if isinstance(cause, NameResolutionError | socket.gaierror):
            url = error.request.url if error.request is not None else monitor.url
            return f"DNS: cannot resolve {urlsplit(url or '').hostname}"
        if isinstance(cause, OSError) and cause.strerror:
            return f"Connection failed: {cause.strerror}"
    return f"Request failed: {_short(str(error))}"


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and every exception it wraps, through causes, contexts, ``reason`` and ``args``."""
    pending, seen = [error], set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        pending.extend(item for item in wrapped if isinstance(item, BaseException))


def _short(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()[:200]


@aloft.hookimpl
def register_check_types() -> list[type[CheckType]]:
    return [HttpCheck]
