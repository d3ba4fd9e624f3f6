"""The ``json-field`` check type: GET a URL and compare one field of its JSON answer with a value."""

from __future__ import annotations

import http.client
import json
import time
from typing import Any
from urllib.parse import urlsplit

from marshmallow import RAISE, Schema, fields, validate

import aloft
from aloft import targets
from aloft.checks import CheckResult, CheckTarget, CheckType, Deadline

__version__ = "0.1.0"

#: A health document is small; a bigger answer is a misconfigured URL, not something to parse.
MAX_BODY_BYTES = 1024 * 1024
USER_AGENT = f"Aloft/{aloft.__version__} (json-field check)"
MISSING = object()


class JsonFieldSettings(Schema):
    """Settings of a ``json-field`` monitor."""

    class Meta:
        unknown = RAISE

    field = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^[^.]+(\.[^.]+)*$", error='Must be keys joined by dots, such as "status" or "checks.0.status".'
        ),
        metadata={"description": "Where the value is: object keys and list indexes joined by dots."},
    )
    equals = fields.Raw(
        required=True, allow_none=True, metadata={"description": "The JSON value that means up: a string, number…"}
    )
    ignore_status = fields.Boolean(
        data_key="ignoreStatus",
        load_default=False,
        metadata={"description": "Judge the field whatever the HTTP status (e.g. a 503 whose body says why)."},
    )


class JsonFieldCheck(CheckType):
    """GET the monitor's URL; up when the value at ``field`` equals ``equals``."""

    name = "json-field"
    description = "GET a URL and compare one field of its JSON answer with an expected value."
    settings_schema = JsonFieldSettings

    @classmethod
    def validate_url(cls, url: str) -> str | None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "Must be an http:// or https:// URL."
        return None

    def run(self, monitor: CheckTarget) -> CheckResult:
        settings = self.load_settings(monitor.settings)
        started = time.perf_counter()
        try:
            status, body = fetch(monitor)
        except (OSError, ValueError, http.client.HTTPException) as error:
            return CheckResult(False, cause=cause_of(error, monitor))
        latency_ms = (time.perf_counter() - started) * 1000
        details = {"statusCode": status}
        if status >= 400 and not settings["ignore_status"]:
            return CheckResult(False, latency_ms, f"HTTP {status}", details)
        if len(body) > MAX_BODY_BYTES:
            return CheckResult(False, latency_ms, "Response is larger than 1 MiB", details)
        try:
            document = json.loads(body)
        except ValueError:
            return CheckResult(False, latency_ms, "Response is not JSON", details)
        path, expected = settings["field"], settings["equals"]
        value = lookup(document, path)
        if value is MISSING:
            return CheckResult(False, latency_ms, f'Field "{path}" not found', details)
        if not same(value, expected):
            cause = f'Field "{path}" is {show(value)}, expected {show(expected)}'
            return CheckResult(False, latency_ms, cause, details)
        return CheckResult(True, latency_ms, details=details)


def fetch(monitor: CheckTarget) -> tuple[int, bytes]:
    """GET the monitor's URL: its status and up to one byte more than ``MAX_BODY_BYTES`` of its body.

    The connection comes from ``aloft.targets.connect``: it refuses every address
    ALOFT_TARGET_POLICY forbids (a cloud-metadata address always) and keeps to the check's
    deadline. Redirects are not followed: a 3xx is judged as the status it is.
    """
    url = urlsplit(monitor.url or "")
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    deadline = Deadline.of(monitor)
    sock = targets.connect(host, port, deadline)
    try:
        if url.scheme == "https":
            sock.settimeout(deadline.remaining())
            sock = targets.tls_context().wrap_socket(sock, server_hostname=host)
        connection = http.client.HTTPConnection(host, port)
        # Every read and write gets only what is left of the deadline, however slowly the server answers.
        connection.sock = targets.Paced(sock, deadline)
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        connection.request("GET", path, headers={"Accept": "application/json", "User-Agent": USER_AGENT})
        response = connection.getresponse()
        return response.status, response.read(MAX_BODY_BYTES + 1)
    finally:
        sock.close()


def lookup(document: Any, path: str) -> Any:
    """The value at ``path`` (object keys and list indexes joined by dots), or ``MISSING``."""
    value = document
    for key in path.split("."):
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return MISSING
    return value


def same(value: Any, expected: Any) -> bool:
    # In Python True == 1, in JSON they are different values.
    return isinstance(value, bool) == isinstance(expected, bool) and value == expected


def show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 100 else text[:99] + "…"


def cause_of(error: Exception, monitor: CheckTarget) -> str:
    """Why the request failed, in words an operator can act on."""
    if isinstance(error, OSError):
        # Refused by the policy, DNS, refused, reset, timed out, TLS: aloft.targets words them all.
        return targets.connection_failure(error, urlsplit(monitor.url or "").hostname or "", monitor.timeout_seconds)
    if isinstance(error, http.client.HTTPException):
        return f"Invalid HTTP response: {type(error).__name__}"
    return f"Invalid URL: {monitor.url}"


@aloft.hookimpl
def register_check_types() -> list[type[CheckType]]:
    return [JsonFieldCheck]
