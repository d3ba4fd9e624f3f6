"""Pings: what passive monitors (heartbeats) receive, one row per ping, kept up to a limit per monitor."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from aloft.models.base import Base
from aloft.models.check_result import ResultId

#: ``start``: a run began; ``success`` and ``fail``: a run ended and how.
PING_KINDS = ("start", "success", "fail")


class Ping(Base):
    __tablename__ = "pings"
    __table_args__ = (
        CheckConstraint("kind IN ('start', 'success', 'fail')", name="kind"),
        # Newest first per monitor, for pruning and for history.
        Index("ix_pings_monitor_newest", "monitor_id", "id"),
    )

    # Pings are many and never addressed alone, so an integer key keeps them small.
    id: Mapped[int] = mapped_column(ResultId, primary_key=True, autoincrement=True)
    monitor_id: Mapped[str] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    received_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    method: Mapped[str | None] = mapped_column(String(8))
    source_ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    #: The start of the request body, e.g. the tail of a job's output.
    body: Mapped[str | None] = mapped_column(String(1000))
