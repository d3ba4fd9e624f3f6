"""Pings: what passive monitors (heartbeats) receive, one row per ping, kept up to a limit per monitor."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from aloft.models.base import Base
from aloft.models.check_result import ResultId

#: Characters of a ping's body that are kept (10 KB of text); the rest is cut and the ping marked.
BODY_LIMIT = 10_000
#: ``start``: a run began; ``success`` and ``fail``: a run ended and how.
PING_KINDS = ("start", "success", "fail")


class Ping(Base):
    __tablename__ = "pings"
    __table_args__ = (
        CheckConstraint("kind IN ('start', 'success', 'fail')", name="kind"),
        # Newest first per monitor, for pruning and for history.
        Index("ix_pings_monitor_newest", "monitor_id", "id"),
        # The token's pings of the last minute, counted for its rate limit (aloft.pings).
        Index("ix_pings_monitor_received", "monitor_id", "received_at"),
    )

    # Pings are many and never addressed alone, so an integer key keeps them small.
    id: Mapped[int] = mapped_column(ResultId, primary_key=True, autoincrement=True)
    monitor_id: Mapped[str] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    received_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    method: Mapped[str | None] = mapped_column(String(8))
    source_ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    #: The start of the request body (at most BODY_LIMIT characters), e.g. a job's output.
    body: Mapped[str | None] = mapped_column(Text)
    #: The body was longer than what is kept.
    body_truncated: Mapped[bool] = mapped_column(default=False)
    #: ``/heartbeat/<token>/<status>``: the job's exit status (0 success, else failure).
    exit_status: Mapped[int | None]
    #: A finish's run time, from its start (paired by ``rid`` when it has one).
    duration_ms: Mapped[int | None]
    #: The run id a job passed (``?rid=``), pairing a start with its finish.
    rid: Mapped[str | None] = mapped_column(String(64))
