"""Check results: one row per check a monitor ran."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from aloft.models.base import Base

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a bigint identity.
ResultId = BigInteger().with_variant(Integer(), "sqlite")


class CheckResult(Base):
    __tablename__ = "check_results"
    __table_args__ = (
        # Newest-first history per monitor; unique so a replayed job writes nothing twice.
        Index("uq_check_results_monitor_checked", "monitor_id", "checked_at", unique=True),
    )

    # Results are many and never addressed alone, so an integer key keeps them small.
    id: Mapped[int] = mapped_column(ResultId, primary_key=True, autoincrement=True)
    monitor_id: Mapped[str] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    checked_at: Mapped[datetime]
    ok: Mapped[bool]
    latency_ms: Mapped[float | None]
    cause: Mapped[str | None] = mapped_column(String(500))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
