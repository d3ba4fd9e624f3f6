"""The ingest endpoint: ``GET|POST|HEAD /heartbeat/<token>`` records a ping, ``…/start``, ``…/fail`` and
``…/<exit status>`` too, each with an optional ``?rid=<run id>``.

It sits outside ``/api/v1`` and needs no API key: the unguessable token in the URL is the
credential, so it is rate limited per token (one count for its three routes, in every web
worker) and kept out of access logs. A ping for a token no monitor has counts against the
client IP, with the budget of an API call without a key: guessing tokens gains nothing.
"""

from __future__ import annotations

import json
import logging
import math
import traceback

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from aloft.api.ratelimit import Caller, client_address_caller, count_callers
from aloft.models import utcnow
from aloft.pings import BODY_EXCERPT_BYTES, PING_PATH, RID_CHARS, Refused, is_ping_token, record_ping
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
        return Response(LIMITED_BODY, 429, headers, mimetype="application/json")
    return Response(OK_BODY, 200, headers, mimetype="application/json")


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
    token = (request.view_args or {}).get("token") or ""
    trace = "".join(traceback.format_exception(exc))
    log.error("Could not record a ping:\n%s", trace.replace(token, "[redacted]") if token else trace)
    return jsonify(error="Internal server error"), 500


def ping_caller() -> Caller | None:
    """Whom flask-limiter counts a ping against: the client IP when no monitor has its token; nobody when
    one has, for :func:`~aloft.pings.record_ping` counts it against its token (ALOFT_PING_RATE_LIMIT, 60
    a minute by default: whatever their kind, ample for a job that runs every minute) in the
    transaction that stores it, with the pings of the last minute as the count."""
    token = (request.view_args or {}).get("token", "")
    return None if is_ping_token(token) else client_address_caller()


def register(app: Flask) -> None:
    """Serve the ingest routes on ``app``, counted per token by the app's own limiter."""
    count_callers(app, bp.name, ping_caller)
    app.register_blueprint(bp)
    redact_access_logs()
