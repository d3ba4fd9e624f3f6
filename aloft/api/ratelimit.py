"""Rate limits: per API key (``ALOFT_RATE_LIMIT``/minute), per client IP when unauthenticated.

Counts live in Redis when ``ALOFT_REDIS_URL`` is set, so every web worker shares them;
in memory otherwise (then each worker process counts on its own). A moving window makes
the limit exact: never more than N requests in any 60 seconds.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

UNAUTHENTICATED_PER_MINUTE = 20


def rate_limit_key() -> str:
    key = g.get("api_key")
    return f"key:{key.id}" if key is not None else f"ip:{get_remote_address()}"


def current_limit() -> str:
    if g.get("api_key") is not None:
        return f"{current_app.extensions['aloft.settings'].rate_limit}/minute"
    return f"{UNAUTHENTICATED_PER_MINUTE}/minute"


def exempt() -> bool:
    """Health probes and the docs are never limited."""
    return not g.get("auth_required", False)


def retry_after_only_when_limited(response: Response) -> Response:
    """flask-limiter sends Retry-After on every response; it means something only on a 429."""
    if response.status_code != 429:
        response.headers.pop("Retry-After", None)
    return response


def configure(app: Flask) -> Limiter:
    """Give ``app`` its own limiter (one per app: each has its own storage)."""
    settings = app.extensions["aloft.settings"]
    app.config.update(
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        RATELIMIT_STRATEGY="moving-window",
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_KEY_PREFIX="aloft",
        RATELIMIT_SWALLOW_ERRORS=False,
    )
    # after_request hooks run in reverse order: this one runs after the limiter's.
    app.after_request(retry_after_only_when_limited)
    return Limiter(
        key_func=rate_limit_key,
        app=app,
        default_limits=[current_limit],
        default_limits_exempt_when=exempt,
    )
