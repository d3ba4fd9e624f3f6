"""The ingest endpoint: ``GET|POST|HEAD /heartbeat/<token>`` records a ping, ``…/start``, ``…/fail`` and
``…/<exit status>`` too, each with an optional ``?rid=<run id>``.

It sits outside ``/api/v1`` and needs no API key: the unguessable token in the URL is the
credential, so it is rate limited per token (one count for its three routes, in every web
worker) and kept out of access logs. A ping for a token no monitor has counts against the
client IP, with the budget of an API call without a key: guessing tokens gains nothing.
"""

from __future__ import annotations

import hashlib
import logging
import traceback

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from aloft.api.ratelimit import Caller, client_address_caller, count_callers
from aloft.pings import BODY_EXCERPT_BYTES, PING_PATH, RID_CHARS, is_ping_token, record_ping
from aloft_heartbeat.redaction import redact_access_logs

log = logging.getLogger(__name__)

METHODS = ["GET", "POST", "HEAD"]
UNKNOWN_TOKEN = "No monitor has this ping URL; copy pingUrl from the monitor again."
MAX_EXIT_STATUS = 255
BAD_EXIT_STATUS = "An exit status is 0-255: /heartbeat/<token>/<status>."
BAD_RID = f"rid: at most {RID_CHARS} characters."
MESSAGES = {413: "Request body too large (limit 1 MiB)", 429: "Rate limit exceeded"}

bp = Blueprint("heartbeat", __name__)


@bp.route(f"{PING_PATH}/<token>", methods=METHODS, defaults={"kind": "success"})
@bp.route(f"{PING_PATH}/<token>/start", methods=METHODS, defaults={"kind": "start"})
@bp.route(f"{PING_PATH}/<token>/fail", methods=METHODS, defaults={"kind": "fail"})
@bp.route(f"{PING_PATH}/<token>/<int:exit_status>", methods=METHODS, defaults={"kind": None})
def receive_ping(token: str, kind: str | None, exit_status: int | None = None) -> tuple[Response, int]:
    if exit_status is not None and exit_status > MAX_EXIT_STATUS:
        return jsonify(error=BAD_EXIT_STATUS), 400
    rid = request.args.get("rid") or None
    if rid is not None and len(rid) > RID_CHARS:
        return jsonify(error=BAD_RID), 400
    body = request.stream.read(BODY_EXCERPT_BYTES + 1)
    ping = record_ping(
        token,
        kind or ("success" if exit_status == 0 else "fail"),
        method=request.method,
        source_ip=request.remote_addr,
        user_agent=request.user_agent.string,
        body=body[:BODY_EXCERPT_BYTES].decode("utf-8", errors="replace"),
        body_truncated=len(body) > BODY_EXCERPT_BYTES,
        exit_status=exit_status,
        rid=rid,
    )
    if ping is None:
        return jsonify(error=UNKNOWN_TOKEN), 404
    return jsonify(ok=True), 200


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


def ping_caller() -> Caller:
    """Whom a ping counts against: its token, hashed so that not even the limiter's storage holds it,
    or the client IP when no monitor has the token."""
    token = (request.view_args or {}).get("token", "")
    if not is_ping_token(token):
        return client_address_caller()
    # ALOFT_PING_RATE_LIMIT, 60 by default: whatever their kind, ample for a job that runs every minute.
    per_minute = current_app.extensions["aloft.settings"].ping_rate_limit
    return Caller("heartbeat:" + hashlib.sha256(token.encode()).hexdigest()[:32], per_minute)


def register(app: Flask) -> None:
    """Serve the ingest routes on ``app``, counted per token by the app's own limiter."""
    count_callers(app, bp.name, ping_caller)
    app.register_blueprint(bp)
    redact_access_logs()
