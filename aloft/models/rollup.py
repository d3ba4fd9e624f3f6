"""Rollups: per monitor, per minute, hour and UTC day, what its checks added up to.

Written in the same transaction as the results they count, so stats over any window read
a bounded number of rows, whatever the history's length. Latencies are kept as a count,
a sum, the extremes and a log-spaced histogram (:mod:`aloft.stats.buckets`), all of which
add up across rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from aloft.models.base import Base, one_of

PERIODS = ("minute", "hour", "day")


class Rollup(Base):
    __tablename__ = "rollups"
    __table_args__ = (
        CheckConstraint(one_of("period", PERIODS), name="period"),
        # The days still to seal (see aloft.stats.pruning.seal_days): about one row per monitor, today's.
        Index(
            "ix_rollups_days_to_seal",
            "bucket_start",
            sqlite_where=text("period = 'day' AND latency_p95 IS NULL"),
            postgresql_where=text("period = 'day' AND latency_p95 IS NULL"),
        ),
    )

    # The primary key is also the index every stats query and the pruning read by.
    monitor_id: Mapped[str] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True)
    period: Mapped[str] = mapped_column(String(6), primary_key=True)
    #: The start of the minute, hour or UTC day.
    bucket_start: Mapped[datetime] = mapped_column(primary_key=True)
    checks: Mapped[int]
    up: Mapped[int]
    #: Each failed check counts its monitor's interval: the time it stood for.
    downtime_seconds: Mapped[int]
    #: Checks that measured a latency (a refused connection measures none).
    latency_count: Mapped[int]
    latency_sum: Mapped[float]
    latency_min: Mapped[float | None]
    latency_max: Mapped[float | None]
    #: ``{"<bucket>": count}`` (see aloft.stats.buckets).
    latency_buckets: Mapped[dict[str, int]] = mapped_column(JSON)
    #: A finished day's p95 latency, stored once the day is over so that a 90-day series
    #: need not read 90 histograms; NULL until then, and again if a late result changes the day.
    latency_p95: Mapped[float | None]
