"""Connections to Redis, for the job queue and shared rate limits, and what a process says when Redis goes away."""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit, urlunsplit

import redis

log = logging.getLogger(__name__)


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)


def display_url(url: str) -> str:
    """``url`` with any password hidden, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:***" if parts.username else ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")))


class Reachability:
    """Whether this process last reached one Redis; it logs when that changes, not on every failed call.

    Everything in a process that talks to the same Redis shares one (see :func:`reachability`),
    so a process logs one line when Redis goes away and one when it is back.
    """

    def __init__(self, url: str) -> None:
        self.url = display_url(url)
        self.reachable = True
        self._lock = threading.Lock()

    def lost(self, error: BaseException, consequence: str) -> None:
        """A call to Redis failed with ``error``; ``consequence`` says what this process does meanwhile."""
        with self._lock:
            if not self.reachable:
                return
            self.reachable = False
        log.warning("Redis at %s is unreachable (%s); %s", self.url, str(error) or type(error).__name__, consequence)

    def regained(self, consequence: str) -> None:
        """A call to Redis succeeded; ``consequence`` says what this process does again."""
        if self.reachable:
            return
        with self._lock:
            if self.reachable:
                return
            self.reachable = True
        log.warning("Redis at %s answers again; %s", self.url, consequence)


_reachabilities: dict[str, Reachability] = {}
_reachabilities_lock = threading.Lock()


def reachability(url: str) -> Reachability:
    """This process's one :class:`Reachability` of the Redis at ``url``."""
    with _reachabilities_lock:
        return _reachabilities.setdefault(url, Reachability(url))
