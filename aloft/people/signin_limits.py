"""How often sign-in may be tried: per client IP, and per account after failures.

Both counts live where the API's rate limits do (:mod:`aloft.api.ratelimit_storage`: Redis,
or a file every web worker opens), so every web worker sees the same numbers. An address
may try :data:`ATTEMPTS_PER_MINUTE` times a minute. An account (the e-mail typed, whether
or not anyone has it, so that the answer tells nothing) that failed :data:`FREE_FAILURES`
times in an hour must then wait before each further attempt: 15 s, then twice as long each time,
at most 15 minutes.
"""

from __future__ import annotations

import hashlib
import math
import time

from flask import current_app
from limits import RateLimitItemPerHour, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.strategies import MovingWindowRateLimiter

#: The figure comparable services use for unauthenticated calls.
ATTEMPTS_PER_MINUTE = 20
FREE_FAILURES = 5
#: The wait after the fifth failure; each further failure doubles it.
FIRST_DELAY_SECONDS = 15
#: The longest wait between attempts, however many failed.
MAX_DELAY_SECONDS = 15 * 60
#: Failures are counted over this moving window (an hour); the limit is only a ceiling.
FAILURES = RateLimitItemPerHour(10_000)


def _limiter() -> MovingWindowRateLimiter:
    return current_app.extensions["aloft.limiter"].limiter


def _account(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def take_attempt(ip: str | None) -> bool:
    """Count a sign-in attempt from ``ip``; False when it is over the limit (refuse it)."""
    return _limiter().hit(RateLimitItemPerMinute(ATTEMPTS_PER_MINUTE), "signin-ip", ip or "unknown")


def failures(email: str) -> int:
    """Failed sign-ins for ``email`` in the last hour."""
    stats = _limiter().get_window_stats(FAILURES, "signin-failures", _account(email))
    return FAILURES.amount - stats.remaining


def delay_after(failed: int) -> int:
    """Seconds an account that failed ``failed`` times must wait between attempts."""
    if failed < FREE_FAILURES:
        return 0
    return min(FIRST_DELAY_SECONDS * 2 ** (failed - FREE_FAILURES), MAX_DELAY_SECONDS)


def wait_seconds(email: str) -> int:
    """Seconds before ``email`` may be tried again; 0 when it may be now."""
    delay = delay_after(failures(email))
    if delay == 0:
        return 0
    item = RateLimitItemPerSecond(1, delay)
    stats = _limiter().get_window_stats(item, "signin-wait", _account(email))
    if stats.remaining > 0:
        return 0
    return max(1, math.ceil(stats.reset_time - time.time()))


def record_failure(email: str) -> None:
    account = _account(email)
    _limiter().hit(FAILURES, "signin-failures", account)
    delay = delay_after(failures(email))
    if delay:
        _limiter().hit(RateLimitItemPerSecond(1, delay), "signin-wait", account)


def clear_failures(email: str) -> None:
    """After a successful sign-in the account starts afresh."""
    limiter, account = _limiter(), _account(email)
    limiter.clear(FAILURES, "signin-failures", account)
