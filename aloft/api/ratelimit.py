"""Rate limits: one count per caller across every route and every web process, in a moving window.

A caller is an API key (``ALOFT_RATE_LIMIT`` requests a minute), or, without a valid key,
the client IP (:data:`UNAUTHENTICATED_PER_MINUTE`). Every request that needs a key counts,
whatever its answer (401, 403, 404, 405, 413, 429 too), and so does any request to an unknown
path under ``/api/v1``; health, ready and the docs do not. A plugin's routes can count their
own callers (:func:`count_callers`): the heartbeat ingest counts per ping token.

flask-limiter applies one application-wide limit whose key and size come from the caller,
so ``/status``, ``/monitors`` and ``/keys`` draw on one budget. Where the counts live is
:mod:`aloft.api.ratelimit_storage`: Redis when configured (falling back to a local file
while it is away), else a file in the data dir that every web worker on the machine shares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from aloft.api.ratelimit_storage import storage_uri_and_options

UNAUTHENTICATED_PER_MINUTE = 20
CALLERS = "aloft.rate_limit_callers"
CALLER = "aloft.rate_limit_caller"


@dataclass(frozen=True)
class Caller:
    """Whom a request is counted against (``key:<id>``, ``ip:<address>``…), and how many a minute it may make."""

    identity: str
    per_minute: int


def client_address_caller() -> Caller:
    """The client IP, with the budget of a caller without a valid key."""
    return Caller(f"ip:{get_remote_address()}", UNAUTHENTICATED_PER_MINUTE)


def api_caller() -> Caller:
    """The calling API key (or signed-in person), or the client IP when the request has neither."""
    key, user = g.get("api_key"), g.get("session_user")
    per_minute = current_app.extensions["aloft.settings"].rate_limit
    if key is not None:
        return Caller(f"key:{key.id}", per_minute)
    if user is not None:
        return Caller(f"user:{user.id}", per_minute)
    return client_address_caller()


def count_callers(app: Flask, blueprint: str, caller: Callable[[], Caller | None]) -> None:
    """Count the requests ``blueprint`` serves against the caller ``caller()`` names (instead of not at all;
    a request it names none for is not counted by flask-limiter)."""
    app.extensions[CALLERS][blueprint] = caller


def counted_caller() -> Caller | None:
    """Whom this request counts against; None when it is not limited.

    Decided once per request (kept in the WSGI environ: ``g`` outlives a request when a test
    holds an app context).
    """
    if CALLER not in request.environ:
        by_blueprint = current_app.extensions[CALLERS].get(request.blueprint or "")
        if by_blueprint is not None:
            request.environ[CALLER] = by_blueprint()
        else:
            request.environ[CALLER] = api_caller() if g.get("api_caller_counted") else None
    return request.environ[CALLER]


def rate_limit_key() -> str:
    caller = counted_caller()
    return caller.identity if caller is not None else ""


def current_limit() -> str:
    caller = counted_caller()
    return f"{caller.per_minute if caller is not None else UNAUTHENTICATED_PER_MINUTE}/minute"


def exempt() -> bool:
    return counted_caller() is None


def retry_after_only_when_limited(response: Response) -> Response:
    """flask-limiter sends Retry-After on every response; it means something only on a 429."""
    if response.status_code != 429:
        response.headers.pop("Retry-After", None)
    return response


def configure(app: Flask) -> Limiter:
    """Give ``app`` its own limiter (one per app: each has its own storage)."""
    settings = app.extensions["aloft.settings"]
    storage_uri, storage_options = storage_uri_and_options(settings.redis_url, settings.data_dir)
    app.config.update(
        RATELIMIT_STORAGE_URI=storage_uri,
        RATELIMIT_STORAGE_OPTIONS=storage_options,
        RATELIMIT_STRATEGY="moving-window",
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_KEY_PREFIX="aloft",
        RATELIMIT_SWALLOW_ERRORS=False,
    )
    app.extensions[CALLERS] = {}
    # after_request hooks run in reverse order: this one runs after the limiter's.
    app.after_request(retry_after_only_when_limited)
    limiter = Limiter(
        key_func=rate_limit_key,
        app=app,
        application_limits=[current_limit],
        application_limits_exempt_when=exempt,
        # flask-limiter exempts requests without an endpoint; an unknown path under /api/v1 counts too.
        request_identifier=lambda: request.endpoint or request.path,
    )
    # A request no caller is counted for (health, the docs, a ping for a known token) leaves the
    # limiter at once: without this filter flask-limiter resolved its limits for every request
    # before finding it exempt, a third of a ping's time in-process.
    limiter.request_filter(exempt)
    _skip_check_when_exempt(app, limiter)
    # Sign-in attempts are counted in the same storage (aloft.people.signin_limits).
    app.extensions["aloft.limiter"] = limiter
    return limiter


def _skip_check_when_exempt(app: Flask, limiter: Limiter) -> None:
    """Run flask-limiter's request check only for a request someone is counted for.

    Even with the request filter, the check works out the meta limits and the exemption
    scopes of the endpoint first (0.1-0.2 ms a request in-process); a request no caller is
    counted for (health, a ping for a known token) skips it. Should flask-limiter register
    its check under another name, nothing is replaced and the filter alone keeps the answer.
    """
    hooks = app.before_request_funcs.get(None, [])
    check = getattr(limiter, "_check_request_limit", None)
    for index, hook in enumerate(hooks):
        if check is not None and hook == check:

            def check_unless_exempt() -> None:
                if not exempt():
                    check()

            hooks[index] = check_unless_exempt
            return
