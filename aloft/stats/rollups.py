"""Adding results to the minute, hour and day rollups, in the transaction that stores them.

A batch's results are first summed in Python per (monitor, period, start), then written
with one upsert per database round trip: a new row is inserted, an existing one has the
batch's counts, sums, extremes and histogram buckets added to it, in SQL, so nothing is
read back. The monitors are locked by the recording transaction, so two batches never add
to one monitor's rows at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from aloft.engine.statements import on_postgresql, sqlite_time
from aloft.stats import buckets


@dataclass(frozen=True)
class Counted:
    """One stored check result, as rollups count it."""

    monitor_id: str
    checked_at: datetime
    ok: bool
    latency_ms: float | None
    interval_seconds: int


@dataclass
class Sum:
    """What some checks add up to, as a rollup row holds it."""

    checks: int = 0
    up: int = 0
    downtime_seconds: int = 0
    latency_count: int = 0
    latency_sum: float = 0.0
    latency_min: float | None = None
    latency_max: float | None = None
    latency_buckets: dict[str, int] = field(default_factory=dict)

    def count(self, result: Counted, bucket: str | None = None) -> None:
        """Add one result; ``bucket`` is its latency's bucket key when the caller has it already."""
        self.checks += 1
        if result.ok:
            self.up += 1
        else:
            self.downtime_seconds += result.interval_seconds
        latency = result.latency_ms
        if latency is not None:
            self.latency_count += 1
            self.latency_sum += latency
            self.latency_min = latency if self.latency_min is None else min(self.latency_min, latency)
            self.latency_max = latency if self.latency_max is None else max(self.latency_max, latency)
            key = str(buckets.bucket_of(latency)) if bucket is None else bucket
            self.latency_buckets[key] = self.latency_buckets.get(key, 0) + 1


def period_start(moment: datetime, period: str) -> datetime:
    """The start of the minute, hour or UTC day ``moment`` falls in."""
    if period == "minute":
        return moment.replace(second=0, microsecond=0)
    if period == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


PERIOD_LENGTH = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


#: Each period's length in seconds: a period starts at a multiple of it (UTC days included).
PERIOD_SECONDS = {period: int(length.total_seconds()) for period, length in PERIOD_LENGTH.items()}


def add_to_rollups(session: Session, results: Iterable[Counted]) -> None:
    # Keyed by epoch seconds: hashing and truncating aware datetimes three times per result
    # was a third of this function's time.
    sums: dict[tuple[str, str, int], Sum] = {}
    for result in results:
        second = int(result.checked_at.timestamp())
        bucket = None if result.latency_ms is None else str(buckets.bucket_of(result.latency_ms))
        for period, length in PERIOD_SECONDS.items():
            key = (result.monitor_id, period, second - second % length)
            total = sums.get(key)
            if total is None:
                total = sums[key] = Sum()
            total.count(result, bucket)
    if not sums:
        return
    rows = sorted(sums.items(), key=_order)
    postgresql = on_postgresql(session)
    # A group spans a few periods: each start becomes the database's time text once, not once per row.
    as_text = datetime.isoformat if postgresql else sqlite_time
    text_of = {start: as_text(datetime.fromtimestamp(start, UTC)) for start in {start for _, _, start in sums}}
    if postgresql:
        given = [[m, p, text_of[start], *_values(added), added.latency_buckets] for (m, p, start), added in rows]
        session.execute(_UPSERT_POSTGRESQL, {"rows": json.dumps(given)})
    else:
        # Plain tuples to the driver: SQLAlchemy's per-row parameter handling cost more than SQLite's work.
        session.connection().exec_driver_sql(
            _UPSERT_SQLITE,
            [
                (m, p, text_of[start], *_values(added), json.dumps(added.latency_buckets))
                for (m, p, start), added in rows
            ],
        )


def _order(item: tuple[tuple[str, str, int], Sum]) -> tuple[str, str, int]:
    return item[0]


def _values(added: Sum) -> list[object]:
    """The row's counts and latency figures, in column order (the histogram follows them)."""
    return [
        added.checks,
        added.up,
        added.downtime_seconds,
        added.latency_count,
        added.latency_sum,
        added.latency_min,
        added.latency_max,
    ]


_ADDED = """
    checks = rollups.checks + excluded.checks,
    up = rollups.up + excluded.up,
    downtime_seconds = rollups.downtime_seconds + excluded.downtime_seconds,
    latency_count = rollups.latency_count + excluded.latency_count,
    latency_sum = rollups.latency_sum + excluded.latency_sum,
    latency_p95 = NULL,
"""

_UPSERT_POSTGRESQL = text(
    "INSERT INTO rollups (monitor_id, period, bucket_start, checks, up, downtime_seconds, latency_count, "
    "latency_sum, latency_min, latency_max, latency_buckets) "
    "SELECT given->>0, given->>1, CAST(given->>2 AS TIMESTAMPTZ), CAST(given->>3 AS INTEGER), "
    "CAST(given->>4 AS INTEGER), CAST(given->>5 AS INTEGER), CAST(given->>6 AS INTEGER), "
    "CAST(given->>7 AS DOUBLE PRECISION), CAST(given->>8 AS DOUBLE PRECISION), CAST(given->>9 AS DOUBLE PRECISION), "
    "given->10 FROM json_array_elements(CAST(:rows AS JSON)) AS given "
    "ON CONFLICT (monitor_id, period, bucket_start) DO UPDATE SET"
    + _ADDED
    + "latency_min = LEAST(rollups.latency_min, excluded.latency_min), "
    "latency_max = GREATEST(rollups.latency_max, excluded.latency_max), "
    "latency_buckets = (SELECT COALESCE(json_object_agg(key, total), '{}') FROM ("
    "SELECT key, SUM(CAST(CAST(value AS TEXT) AS INTEGER)) AS total FROM ("
    "SELECT * FROM json_each(rollups.latency_buckets) UNION ALL SELECT * FROM json_each(excluded.latency_buckets)"
    ") AS both_sides GROUP BY key) AS summed)"
)

_UPSERT_SQLITE = (
    "INSERT INTO rollups (monitor_id, period, bucket_start, checks, up, downtime_seconds, latency_count, "
    "latency_sum, latency_min, latency_max, latency_buckets) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (monitor_id, period, bucket_start) DO UPDATE SET"
    + _ADDED
    + "latency_min = CASE WHEN rollups.latency_min IS NULL THEN excluded.latency_min "
    "WHEN excluded.latency_min IS NULL THEN rollups.latency_min "
    "ELSE min(rollups.latency_min, excluded.latency_min) END, "
    "latency_max = CASE WHEN rollups.latency_max IS NULL THEN excluded.latency_max "
    "WHEN excluded.latency_max IS NULL THEN rollups.latency_max "
    "ELSE max(rollups.latency_max, excluded.latency_max) END, "
    "latency_buckets = (SELECT COALESCE(json_group_object(key, total), '{}') FROM ("
    "SELECT key, SUM(value) AS total FROM ("
    "SELECT key, value FROM json_each(rollups.latency_buckets) "
    "UNION ALL SELECT key, value FROM json_each(excluded.latency_buckets)"
    ") GROUP BY key))"
)
