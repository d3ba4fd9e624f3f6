"""The ingest endpoint: ``GET|POST|HEAD /heartbeat/<token>`` records a ping, ``…/start``, ``…/fail`` and
``…/<exit status>`` too, each with an optional ``?rid=<run id>``.

It sits outside ``/api/v1`` and needs no API key: the unguessable token in the URL is the
credential, so it is rate limited per token (one count for its three routes, in every web
worker) and kept out of access logs. A ping for a token no monitor has counts against the
client IP, with the budget of an API call without a key: guessing tokens gains nothing.
"""

from __future__ import annotations

import io
import json
import logging
import math
import traceback
from functools import cached_property
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from sqlalchemy import Engine
from werkzeug.exceptions import HTTPException

from aloft.api.ratelimit import Caller, client_address_caller, count_callers
from aloft.extensions import db
from aloft.models import utcnow
from aloft.pings import (
    BODY_EXCERPT_BYTES,
    PING_PATH,
    RID_CHARS,
    Recorded,
    Refused,
    is_ping_token,
    ping_values,
    record_ping,
    take_usual_ping,
)
from aloft_heartbeat.redaction import redact_access_logs

log = logging.getLogger(__name__)

METHODS = ["GET", "POST", "HEAD"]
UNKNOWN_TOKEN = "No monitor has this ping URL; copy pingUrl from the monitor again."
MAX_EXIT_STATUS = 255
BAD_EXIT_STATUS = "An exit status is 0-255: /heartbeat/<token>/<status>."
BAD_RID = f"rid: at most {RID_CHARS} characters."
MESSAGES = {413: "Request body too large (limit 1 MiB)", 429: "Rate limit exceeded"}
OK_BODY = json.dumps({"ok": True}, separators=(",", ":")) + "\n"
LIMITED_BODY = json.dumps({"error": MESSAGES[429]}, separators=(",", ":")) + "\n"

bp = Blueprint("heartbeat", __name__)


# One view per route rather than one view with ``defaults``: for a rule with defaults, werkzeug
# looks for a redirect on every match (a tenth of a ping's time outside the database).
@bp.route(f"{PING_PATH}/<token>", methods=METHODS)
def ping_success(token: str) -> Response:
    return receive_ping(token, "success")


@bp.route(f"{PING_PATH}/<token>/start", methods=METHODS)
def ping_start(token: str) -> Response:
    return receive_ping(token, "start")


@bp.route(f"{PING_PATH}/<token>/fail", methods=METHODS)
def ping_fail(token: str) -> Response:
    return receive_ping(token, "fail")


@bp.route(f"{PING_PATH}/<token>/<int:exit_status>", methods=METHODS)
def ping_exit_status(token: str, exit_status: int) -> Response:
    if exit_status > MAX_EXIT_STATUS:
        return error_response(BAD_EXIT_STATUS, 400)
    return receive_ping(token, "success" if exit_status == 0 else "fail", exit_status)


def receive_ping(token: str, kind: str, exit_status: int | None = None) -> Response:
    environ = request.environ
    rid = request.args.get("rid") or None if environ.get("QUERY_STRING") else None
    if rid is not None and len(rid) > RID_CHARS:
        return error_response(BAD_RID, 400)
    body = request.stream.read(BODY_EXCERPT_BYTES + 1)
    per_minute = current_app.extensions["aloft.settings"].ping_rate_limit
    ping = record_ping(
        token,
        kind,
        method=request.method,
        source_ip=request.remote_addr,
        user_agent=environ.get("HTTP_USER_AGENT"),
        body=body[:BODY_EXCERPT_BYTES].decode("utf-8", errors="replace"),
        body_truncated=len(body) > BODY_EXCERPT_BYTES,
        exit_status=exit_status,
        rid=rid,
        per_minute=per_minute,
    )
    if ping is None:
        return error_response(UNKNOWN_TOKEN, 404)
    status, headers, body = answer(ping)
    return Response(body, status, headers, mimetype="application/json")


def answer(ping: Recorded | Refused) -> tuple[int, list[tuple[str, str]], str]:
    """The status, headers (but the content's) and body that answer a ping taken or refused."""
    headers = []
    if ping.window is not None:
        window = ping.window
        headers = [
            ("X-RateLimit-Limit", str(window.limit)),
            ("X-RateLimit-Remaining", str(window.remaining)),
            ("X-RateLimit-Reset", str(math.ceil(window.resets_at.timestamp()))),
        ]
    if isinstance(ping, Refused):
        retry_after = math.ceil((ping.window.resets_at - utcnow()).total_seconds())
        headers.append(("Retry-After", str(max(retry_after, 1))))
        return 429, headers, LIMITED_BODY
    return 200, headers, OK_BODY


def error_response(message: str, status: int) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    return response


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> tuple[Response, int]:
    status = exc.code or 500
    return jsonify(error=MESSAGES.get(status, exc.name)), status


@bp.errorhandler(Exception)
def unexpected_error(exc: Exception) -> tuple[Response, int]:
    # Logged here rather than by Aloft's handler, which logs the path; a database error's
    # message may quote the token as a query parameter, so the trace is redacted too.
    log_failure(exc, (request.view_args or {}).get("token") or "")
    return jsonify(error="Internal server error"), 500


def ping_caller() -> Caller | None:
    """Whom flask-limiter counts a ping against: the client IP when no monitor has its token; nobody when
    one has, for :func:`~aloft.pings.record_ping` counts it against its token (ALOFT_PING_RATE_LIMIT, 60
    a minute by default: whatever their kind, ample for a job that runs every minute) in the
    transaction that stores it, with the pings of the last minute as the count."""
    token = (request.view_args or {}).get("token", "")
    return None if is_ping_token(token) else client_address_caller()


class UsualPings:
    """WSGI middleware that answers the usual ping before Flask sees it; every other request goes on to Flask.

    The usual ping is a success (``GET|POST|HEAD /heartbeat/<token>``, no query string, a body of
    at most 10 KB with a ``Content-Length``) for a monitor that is up with no failures counted and
    no run under way. For it the Flask view would only run
    :func:`~aloft.pings.take_usual_ping` (one statement) inside Flask's request machinery
    (context, session, hooks, routing, response object), and that machinery cost twice the
    statement: measured in-process, 155 us of a ping's 227 us, against 111 us for the
    whole of ``GET /api/v1/health``. The answer is the view's, byte for byte: the same status,
    headers and body. Whatever is not the usual ping, or turns out not to be (the monitor went
    down meanwhile: the statement writes nothing then), is Flask's, with its rate limits by IP
    for unknown tokens, its 400s, 413s and 405s.
    """

    def __init__(self, app: Flask, wsgi_app: Any) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.prefix = PING_PATH + "/"

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith(self.prefix):
            try:
                taken = self.take(environ, path[len(self.prefix) :])
            except Exception as exc:
                log_failure(exc, path[len(self.prefix) :])
                status, headers, body = 500, [], INTERNAL_ERROR_BODY
            else:
                if taken is None:
                    return self.wsgi_app(environ, start_response)
                status, headers, body = answer(taken)
            encoded = body.encode()
            headers += [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(encoded))),
                ("Vary", "Cookie"),  # as Flask's answer has it (the session is looked at for every request)
            ]
            start_response(STATUS_LINES[status], headers)
            return [] if environ["REQUEST_METHOD"] == "HEAD" else [encoded]
        return self.wsgi_app(environ, start_response)

    def take(self, environ: dict[str, Any], token: str) -> Recorded | Refused | None:
        """The usual ping taken or refused; None to leave the request to Flask (nothing written)."""
        if environ.get("QUERY_STRING") or environ["REQUEST_METHOD"] not in METHODS or "/" in token:
            return None
        if "HTTP_TRANSFER_ENCODING" in environ:
            return None
        length = environ.get("CONTENT_LENGTH") or "0"
        if not length.isdigit() or int(length) > BODY_EXCERPT_BYTES:
            return None
        body = environ["wsgi.input"].read(int(length)) if length != "0" else b""
        values = ping_values(
            utcnow(),
            "success",
            environ["REQUEST_METHOD"],
            environ.get("REMOTE_ADDR"),
            environ.get("HTTP_USER_AGENT"),
            body.decode("utf-8", errors="replace"),
            False,
            None,
            None,
        )
        taken = take_usual_ping(self.engine, token, values, self.settings.ping_rate_limit)
        if taken is None and body:
            environ["wsgi.input"] = io.BytesIO(body)  # Flask reads it again
            environ["CONTENT_LENGTH"] = str(len(body))
        return taken

    @cached_property
    def engine(self) -> Engine:
        with self.app.app_context():
            return db.engine

    @cached_property
    def settings(self) -> Any:
        return self.app.extensions["aloft.settings"]


STATUS_LINES = {200: "200 OK", 429: "429 TOO MANY REQUESTS", 500: "500 INTERNAL SERVER ERROR"}
INTERNAL_ERROR_BODY = json.dumps({"error": "Internal server error"}, separators=(",", ":")) + "\n"


def log_failure(exc: BaseException, token: str) -> None:
    """Log a ping that could not be recorded, the token redacted (a database error's message may quote it)."""
    trace = "".join(traceback.format_exception(exc))
    log.error("Could not record a ping:\n%s", trace.replace(token, "[redacted]") if token else trace)


def register(app: Flask) -> None:
    """Serve the ingest routes on ``app``, counted per token by the app's own limiter, the usual ping
    answered by :class:`UsualPings`."""
    count_callers(app, bp.name, ping_caller)
    app.register_blueprint(bp)
    app.wsgi_app = UsualPings(app, app.wsgi_app)  # type: ignore[method-assign]
    redact_access_logs()
