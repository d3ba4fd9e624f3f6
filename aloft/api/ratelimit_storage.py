"""Where rate-limit counts live: one count per caller for every web process of an installation.

Without Redis, :class:`LocalStorage` keeps the counts in a small SQLite file of their own in
the data dir, which every process on the machine opens: gunicorn's workers, however many,
count together. With Redis, :class:`RedisOrLocalStorage` counts in Redis and, while Redis
does not answer, in that local file instead, so the API keeps answering (each machine then
counts on its own); it logs one line when Redis goes away and one when it is back.

Both implement the ``limits`` library's moving window: a request is allowed when fewer than
N requests were counted in the last 60 seconds, so never more than N pass in any 60 s.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from limits.storage import MovingWindowSupport, RedisStorage, Storage
from redis.exceptions import RedisError

from aloft.private_files import private_directory, private_sqlite_file
from aloft.redis_connection import connect, reachability

#: The counts' file in the data dir.
LOCAL_FILE = "ratelimits.db"
#: While Redis is away, a request tries it again at most this often (per process).
REDIS_RETRY_SECONDS = 1.0
#: How often a process deletes the counts of callers that went quiet.
SWEEP_SECONDS = 60.0

Clock = Callable[[], float]

#: ``amount`` hits at ``now`` if fewer than ``limit - amount + 1`` were counted since ``now - expiry``.
ACQUIRE = """
INSERT INTO hits (key, at, expires)
WITH RECURSIVE hit(number) AS (SELECT 1 UNION ALL SELECT number + 1 FROM hit WHERE number < ?)
SELECT ?, ?, ? FROM hit
WHERE (SELECT count(*) FROM hits WHERE key = ? AND at >= ?) + ? <= ?
"""


class LocalStorage(Storage, MovingWindowSupport):
    """A moving window per key in an SQLite file shared by every process that opens it.

    Each hit is a row; allowing one is one ``INSERT … SELECT`` that counts and inserts under
    the write lock, so two processes never both take the last place in a window, and rows of
    requests that left their window are swept once a minute. The file is not the main
    database: its writes never wait for the engine's, and losing it loses only counts, so
    it is written without fsync (``synchronous=OFF``). Each thread of each process has its
    own connection. ``clock`` (seconds since the epoch) is there for tests.
    """

    STORAGE_SCHEME: ClassVar[list[str]] = ["aloft-local"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, *, clock: Clock = time.time, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self.path = uri.removeprefix("aloft-local://")
        self.clock = clock
        self._local = threading.local()
        self._swept_at = 0.0

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        # A forked child must not share its parent's connection.
        if connection is None or self._local.pid != os.getpid():
            private_directory(Path(self.path).parent)
            private_sqlite_file(Path(self.path))
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=OFF")
            connection.execute("CREATE TABLE IF NOT EXISTS hits (key TEXT NOT NULL, at REAL NOT NULL, expires REAL)")
            connection.execute("CREATE INDEX IF NOT EXISTS hits_by_key ON hits (key, at)")
            self._local.connection, self._local.pid = connection, os.getpid()
        return connection

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        now = self.clock()
        connection = self._connection()
        if now - self._swept_at >= SWEEP_SECONDS:
            self._swept_at = now
            connection.execute("DELETE FROM hits WHERE expires < ?", (now,))
        # One statement, so one short write transaction: the count and the insert cannot be split
        # by another process's insert (an INSERT takes the write lock before it reads).
        inserted = connection.execute(ACQUIRE, (amount, key, now, now + expiry, key, now - expiry, amount, limit))
        return inserted.rowcount == amount

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = self.clock()
        oldest, counted = (
            self._connection()
            .execute("SELECT min(at), count(*) FROM hits WHERE key = ? AND at >= ?", (key, now - expiry))
            .fetchone()
        )
        return (oldest, counted) if counted else (now, 0)

    def clear(self, key: str) -> None:
        self._connection().execute("DELETE FROM hits WHERE key = ?", (key,))

    def reset(self) -> int | None:
        return self._connection().execute("DELETE FROM hits").rowcount

    def check(self) -> bool:
        self._connection().execute("SELECT 1")
        return True

    # Aloft asks only for the moving window; the fixed window's counters are not kept here.
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        raise NotImplementedError("LocalStorage keeps moving windows only")

    def get(self, key: str) -> int:
        raise NotImplementedError("LocalStorage keeps moving windows only")

    def get_expiry(self, key: str) -> float:
        raise NotImplementedError("LocalStorage keeps moving windows only")


class ClockedRedisStorage(RedisStorage):
    """``limits``' Redis storage, reading the time from ``clock`` (its Lua scripts take the time as an argument)."""

    def __init__(self, redis_url: str, *, clock: Clock = time.time) -> None:
        super().__init__(redis_url, connection_pool=connect(redis_url).connection_pool)
        self.clock = clock

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        arguments = [self.clock(), limit, expiry, amount]
        return bool(self.lua_acquire_moving_window([self.prefixed_key(key)], arguments))

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = self.clock()
        if window := self.lua_moving_window([self.prefixed_key(key)], [now - expiry, limit]):
            return float(window[0]), int(window[1])
        return now, 0


class RedisOrLocalStorage(Storage, MovingWindowSupport):
    """Counts in Redis; while Redis does not answer, in a :class:`LocalStorage` file instead.

    The switch costs nothing to the caller: the request that finds Redis gone is counted
    locally, and so is every request until one, at most every :data:`REDIS_RETRY_SECONDS`,
    finds it back. Counts do not carry over either way: the window restarts on each side.
    """

    STORAGE_SCHEME: ClassVar[list[str]] = ["aloft-redis"]

    def __init__(
        self,
        uri: str,
        wrap_exceptions: bool = False,
        *,
        redis_url: str,
        local_path: str,
        clock: Clock = time.time,
        **options: Any,
    ) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self.redis = ClockedRedisStorage(redis_url, clock=clock)
        self.local = LocalStorage(f"aloft-local://{local_path}", clock=clock)
        self.reachability = reachability(redis_url)
        self._retry_at = 0.0

    @property
    def clock(self) -> Clock:
        return self.redis.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self.redis.clock = self.local.clock = clock

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _counted(self, operation: str, *arguments: Any) -> Any:
        """Run ``operation`` on Redis when it may answer, else (or when it fails) on the local file."""
        if self.reachability.reachable or time.monotonic() >= self._retry_at:
            try:
                result = getattr(self.redis, operation)(*arguments)
            except RedisError as error:
                self._retry_at = time.monotonic() + REDIS_RETRY_SECONDS
                self.reachability.lost(error, f"rate limits are counted in {self.local.path} until it is back")
            else:
                self.reachability.regained("rate limits are counted in Redis again")
                return result
        return getattr(self.local, operation)(*arguments)

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return self._counted("acquire_entry", key, limit, expiry, amount)

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        return self._counted("get_moving_window", key, limit, expiry)

    def clear(self, key: str) -> None:
        self._counted("clear", key)

    def reset(self) -> int | None:
        return self._counted("reset")

    def check(self) -> bool:
        return self._counted("check")

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        raise NotImplementedError("RedisOrLocalStorage keeps moving windows only")

    def get(self, key: str) -> int:
        raise NotImplementedError("RedisOrLocalStorage keeps moving windows only")

    def get_expiry(self, key: str) -> float:
        raise NotImplementedError("RedisOrLocalStorage keeps moving windows only")


def storage_uri_and_options(redis_url: str | None, data_dir: Path) -> tuple[str, dict[str, Any]]:
    """The flask-limiter storage settings for an installation: Redis with a local fallback, or local only."""
    local_path = str(data_dir / LOCAL_FILE)
    if redis_url is None:
        return f"aloft-local://{local_path}", {}
    return "aloft-redis://", {"redis_url": redis_url, "local_path": local_path}
