"""The ingest endpoint: ``GET|POST|HEAD /heartbeat/<token>`` records a ping, ``…/start`` and ``…/fail`` too.

It sits outside ``/api/v1`` and needs no API key: the unguessable token in the URL is the
credential, so it is rate limited per token (one count for its three routes, in every web
worker) and kept out of access logs. A ping for a token no monitor has counts against the
client IP, with the budget of an API call without a key: guessing tokens gains nothing.
"""

from __future__ import annotations

import hashlib
import logging
import traceback

from flask import Blueprint, Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from aloft.api.ratelimit import Caller, client_address_caller, count_callers
from aloft.pings import BODY_EXCERPT_CHARS, PING_PATH, is_ping_token, record_ping
from aloft_heartbeat.redaction import redact_access_logs

log = logging.getLogger(__name__)

#: Pings one token may send per minute, whatever their kind: ample for a job that runs every minute.
PINGS_PER_MINUTE = 60
METHODS = ["GET", "POST", "HEAD"]
UNKNOWN_TOKEN = "No monitor has this ping URL; copy pingUrl from the monitor again."
MESSAGES = {413: "Request body too large (limit 1 MiB)", 429: "Rate limit exceeded"}

bp = Blueprint("heartbeat", __name__)


@bp.route(f"{PING_PATH}/<token>", methods=METHODS, defaults={"kind": "success"})
@bp.route(f"{PING_PATH}/<token>/start", methods=METHODS, defaults={"kind": "start"})
@bp.route(f"{PING_PATH}/<token>/fail", methods=METHODS, defaults={"kind": "fail"})
def receive_ping(token: str, kind: str) -> tuple[Response, int]:
    ping = record_ping(
        token,
        kind,
        method=request.method,
        source_ip=request.remote_addr,
        user_agent=request.user_agent.string,
        body=request.stream.read(BODY_EXCERPT_CHARS).decode("utf-8", errors="replace"),
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
    return Caller("heartbeat:" + hashlib.sha256(token.encode()).hexdigest()[:32], PINGS_PER_MINUTE)


def register(app: Flask) -> None:
    """Serve the ingest routes on ``app``, counted per token by the app's own limiter."""
    count_callers(app, bp.name, ping_caller)
    app.register_blueprint(bp)
    redact_access_logs()
