"""The ``http`` check type: request a URL and judge the status code and, optionally, the body.

Requests are written with :mod:`http.client` on sockets from :func:`aloft.targets.connect`,
so the target policy vets the address of the first request and of every redirect hop.
Redirects are followed here, one fresh connection per hop; TLS uses the process-wide
context of :func:`aloft.targets.tls_context` and verifies the URL's host name.

The monitor's timeout bounds the whole check: resolving, connecting, the TLS handshake,
every read and write of every hop get only what is left of the check's
:class:`~aloft.checks.Deadline`.
"""

from __future__ import annotations

import base64
import codecs
import http.client
import re
import socket
import ssl
import time
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

import aloft
from aloft import targets
from aloft.checks import CheckResult, CheckTarget, CheckType, Deadline

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MAX_REDIRECTS = 5
# The keyword is searched for in this much of the body; the rest is not downloaded.
MAX_BODY_BYTES = 1024 * 1024
STATUS_CODES_PATTERN = re.compile(r"[1-5][0-9]{2}(-[1-5][0-9]{2})?")
STATUS_CODES_ERROR = 'Must be a status code such as 204 or "204", or a range such as "200-399".'
USER_AGENT = f"Aloft/{aloft.__version__} (uptime check)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_PORTS = {"http": 80, "https": 443}
#: Headers meant for the monitored origin only: a redirect to another origin drops them, as curl does.
ORIGIN_HEADERS = frozenset({"authorization", "cookie", "host", "proxy-authorization"})
#: Characters left as they are when a URL's path and query are percent-encoded (the rest of RFC 3986's).
URL_SAFE = "!$%&'()*+,/:;=?@[]~"
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


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


def _header_lines(headers: dict[str, str]) -> None:
    for name, value in headers.items():
        if not HEADER_NAME.match(name):
            raise ValidationError(f"{name!r} is not a valid header name.")
        if any(character in value for character in "\r\n\0"):
            raise ValidationError(f"The value of {name} must be one line.")
        if any(ord(character) > 255 for character in value):
            raise ValidationError(f"The value of {name} must be Latin-1 text.")


class StatusCodes(fields.Field):
    """A status code (``204`` or ``"204"``) or an inclusive range (``"200-399"``), loaded as text."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or STATUS_CODES_PATTERN.fullmatch(value) is None:
            raise ValidationError(STATUS_CODES_ERROR)
        return value


class HttpSettings(Schema):
    """Settings of an ``http`` monitor."""

    class Meta:
        unknown = RAISE

    method = fields.String(load_default="GET", validate=validate.OneOf(METHODS))
    headers = fields.Dict(
        keys=fields.String(),
        # One line of Latin-1 text: what _header_lines() takes, stated for the OpenAPI document.
        values=fields.String(metadata={"pattern": "^[\\u0001-\\u0009\\u000b\\u000c\\u000e-\\u00ff]*$"}),
        load_default=dict,
        validate=_header_lines,
        metadata={"propertyNames": {"pattern": HEADER_NAME.pattern}},
    )
    body = fields.String(metadata={"description": "Request body, sent as is."})
    expected_status_codes = fields.List(
        StatusCodes(
            metadata={
                "oneOf": [
                    {"type": "integer", "minimum": 100, "maximum": 599},
                    {"type": "string", "pattern": f"^{STATUS_CODES_PATTERN.pattern}$"},
                ]
            }
        ),
        data_key="expectedStatusCodes",
        load_default=lambda: ["200-399"],
        validate=[validate.Length(min=1), _ascending],
        metadata={"description": 'Codes (204 or "204") or inclusive ranges ("200-399") that mean up.'},
    )
    keyword = fields.String(
        validate=validate.Length(min=1),
        metadata={
            "description": "Text the body must contain (or, with keywordAbsent, must not), "
            "searched for in the first 1 MiB of the body."
        },
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


class CheckFailed(Exception):
    """The check failed before a response could be judged; ``cause`` says why."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


@dataclass(frozen=True)
class Url:
    """An http(s) URL taken apart for sending a request to it."""

    text: str
    scheme: str
    #: ASCII (IDNA-encoded), IPv6 without brackets.
    host: str
    port: int
    #: Path and query, percent-encoded.
    path: str
    #: ``user:password`` from the URL, sent as HTTP basic authentication.
    credentials: str | None

    @classmethod
    def parse(cls, text: str) -> Url:
        """Raises :class:`CheckFailed` unless ``text`` is an absolute http or https URL."""
        return _parsed_url(text)

    @classmethod
    def _parse(cls, text: str) -> Url:
        try:
            parts = urlsplit(text)
            port = parts.port
            host = (parts.hostname or "").encode("idna").decode("ascii")
        except ValueError:  # including UnicodeError from IDNA
            raise CheckFailed(f"Invalid URL: {text}") from None
        if parts.scheme not in DEFAULT_PORTS or not host:
            raise CheckFailed(f"Invalid URL: {text}")
        path = quote(parts.path or "/", safe=URL_SAFE) + (
            f"?{quote(parts.query, safe=URL_SAFE)}" if parts.query else ""
        )
        credentials = None
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        return cls(text, parts.scheme, host, port or DEFAULT_PORTS[parts.scheme], path, credentials)

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


@lru_cache(maxsize=4096)
def _parsed_url(text: str) -> Url:
    # Monitors are checked over and over: parse each URL once (an invalid one raises, uncached).
    return Url._parse(text)


@dataclass(frozen=True)
class Request:
    """One request of a check: the first, or the one a redirect asks for."""

    method: str
    url: Url
    #: The monitor's headers, minus those a redirect to another origin dropped.
    headers: dict[str, str]
    body: bytes | None

    def wire_headers(self) -> dict[str, str]:
        """Headers as sent: Host and User-Agent unless the monitor sets its own, then the URL's credentials."""
        given = {name.lower() for name in self.headers}
        defaults = {"Host": self.url.host_header, "User-Agent": USER_AGENT}
        headers = {name: value for name, value in defaults.items() if name.lower() not in given} | self.headers
        if self.url.credentials is not None:
            token = base64.b64encode(self.url.credentials.encode()).decode("ascii")
            headers = {name: value for name, value in headers.items() if name.lower() != "authorization"}
            headers["Authorization"] = f"Basic {token}"
        return headers

    def redirected(self, status: int, location: str) -> Request:
        """The request a ``status`` redirect to ``location`` calls for (browsers' rules, as requests has them)."""
        url = Url.parse(urljoin(self.url.text, location))
        method, body, headers = self.method, self.body, self.headers
        if (status in (302, 303) and method != "HEAD") or (status == 301 and method == "POST"):
            method = "GET"
        if status not in (307, 308):
            body = None
            headers = {name: value for name, value in headers.items() if name.lower() != "content-type"}
        if url.origin != self.url.origin:
            headers = {name: value for name, value in headers.items() if name.lower() not in ORIGIN_HEADERS}
        return replace(self, method=method, url=url, headers=headers, body=body)


class Exchange:
    """The requests of one check, each on a connection of its own that the next one closes."""

    def __init__(self, url: Url, deadline: Deadline, verify_tls: bool) -> None:
        #: The URL being requested: a failure is about its host.
        self.url = url
        self.deadline = deadline
        self.verify_tls = verify_tls
        self._connection: http.client.HTTPConnection | None = None
        self._sock: socket.socket | None = None

    def follow(self, request: Request, follow_redirects: bool) -> http.client.HTTPResponse:
        """The response to ``request`` or, following redirects, to the last one it leads to."""
        redirects = 0
        while True:
            response = self.send(request)
            location = response.getheader("Location")
            if not follow_redirects or response.status not in REDIRECT_STATUSES or not location:
                return response
            if redirects == MAX_REDIRECTS:
                raise CheckFailed(f"Too many redirects (max {MAX_REDIRECTS})")
            redirects += 1
            request = request.redirected(response.status, location)

    def send(self, request: Request) -> http.client.HTTPResponse:
        self.close()
        self.url = url = request.url
        self._connection = http.client.HTTPConnection(url.host, url.port)
        self._sock = self._open_socket(url)
        self._connection.sock = targets.Paced(self._sock, self.deadline)
        self._connection.request(request.method, url.path, body=request.body, headers=request.wire_headers())
        return self._connection.getresponse()

    def _open_socket(self, url: Url) -> socket.socket:
        sock = targets.connect(url.host, url.port, self.deadline)
        if url.scheme == "http":
            return sock
        context = targets.tls_context() if self.verify_tls else _unverified_tls_context()
        try:
            # A handshake is bounded as a whole by the timeout it starts with.
            sock.settimeout(self.deadline.remaining())
            return context.wrap_socket(sock, server_hostname=url.host)
        except BaseException:
            sock.close()
            raise

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class HttpCheck(CheckType):
    """Request the monitor's URL; up when the status is expected and the keyword test passes."""

    name = "http"
    description = "Request a URL; check the status code and optionally a keyword in the body."
    settings_schema = HttpSettings
    requires_url = True

    @classmethod
    def validate_url(cls, url: str) -> str | None:
        try:
            Url.parse(url)
        except CheckFailed as invalid:
            return invalid.cause
        return None

    def run(self, monitor: CheckTarget) -> CheckResult:
        options = self.load_settings(monitor.settings)
        expected = status_ranges(options["expected_status_codes"])
        try:
            url = Url.parse(monitor.url or "")
        except CheckFailed as failed:
            return CheckResult(False, cause=failed.cause)
        body = options.get("body")
        request = Request(options["method"], url, options["headers"], None if body is None else body.encode())
        deadline = Deadline.of(monitor)
        started = time.perf_counter()
        exchange = Exchange(url, deadline, options["verify_tls"])
        try:
            response = exchange.follow(request, options["follow_redirects"])
            latency_ms = (time.perf_counter() - started) * 1000
            details = {"statusCode": response.status}
            if not any(low <= response.status <= high for low, high in expected):
                return CheckResult(False, latency_ms, f"HTTP {response.status}", details)
            text = _read_body(response) if "keyword" in options else None
            if deadline.expired:  # the last read ended just past it: a check that took too long is not up
                raise TimeoutError(deadline.cause)
        except CheckFailed as failed:
            return CheckResult(False, cause=failed.cause)
        except (OSError, http.client.HTTPException) as error:
            return CheckResult(False, cause=_cause(error, exchange.url, monitor.timeout_seconds))
        finally:
            exchange.close()
        if text is None:
            return CheckResult(True, latency_ms, details=details)
        return _keyword_result(text, options["keyword"], options["keyword_absent"], latency_ms, details)


@cache
def _unverified_tls_context() -> ssl.SSLContext:
    """For ``verifyTls: false``: encrypts, trusts anything. Built once, like the verifying one."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _read_body(response: http.client.HTTPResponse) -> str:
    """The body's first ``MAX_BODY_BYTES``, decoded (the connection is paced: it ends at the check's deadline)."""
    return response.read(MAX_BODY_BYTES).decode(_charset(response), errors="replace")


def _charset(response: http.client.HTTPResponse) -> str:
    charset = response.headers.get_content_charset() or "utf-8"
    try:
        codecs.lookup(charset)
    except LookupError:
        return "utf-8"
    return charset


def _keyword_result(
    body: str, keyword: str, must_be_absent: bool, latency_ms: float, details: dict[str, Any]
) -> CheckResult:
    present = keyword in body
    if must_be_absent and present:
        return CheckResult(False, latency_ms, f'Keyword "{keyword}" found', details)
    if not must_be_absent and not present:
        return CheckResult(False, latency_ms, f'Keyword "{keyword}" not found', details)
    return CheckResult(True, latency_ms, details=details)


def _cause(error: OSError | http.client.HTTPException, url: Url, timeout_seconds: int) -> str:
    """Say why the request to ``url`` failed in words an operator can act on."""
    if isinstance(error, http.client.InvalidURL):
        return f"Invalid URL: {url.text}"
    if isinstance(error, http.client.RemoteDisconnected):
        return "Connection closed without a response"
    if isinstance(error, http.client.IncompleteRead):
        return "Connection broken while reading the response"
    if isinstance(error, http.client.HTTPException):
        return f"Invalid HTTP response: {_short(str(error))}"
    return targets.connection_failure(error, url.host, timeout_seconds)


def _short(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()[:200]


@aloft.hookimpl
def register_check_types() -> list[type[CheckType]]:
    return [HttpCheck]
