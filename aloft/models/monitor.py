"""Monitors: what to check, how often, and the state the checks have put it in."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, ForeignKey, Index, String, Table, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aloft.models.base import Base, IdMixin, TimestampMixin, one_of, utcnow

if TYPE_CHECKING:
    from aloft.models.channel import Channel

STATUSES = ("pending", "up", "down", "paused")

monitor_channels = Table(
    "monitor_channels",
    Base.metadata,
    Column("monitor_id", ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "channel_id",
        ForeignKey("channels.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


def new_spread_key() -> int:
    """A random 62-bit key: its remainder modulo any interval is as good as uniform."""
    return secrets.randbits(62)


class Monitor(IdMixin, TimestampMixin, Base):
    __tablename__ = "monitors"
    __table_args__ = (
        CheckConstraint(one_of("status", STATUSES), name="status"),
        # Listing an org's monitors and counting them by status (GET /api/v1/status).
        Index("ix_monitors_org_status", "org_id", "status"),
        # The scheduler's deadline sweep: passive monitors whose next deadline has passed, oldest first.
        Index("ix_monitors_next_deadline", "next_deadline_at"),
        # The grid (aloft.engine.scheduler.due_in) reads the monitors that reach out and are not
        # paused, from this index alone: passive monitors, however many, cost its ticks nothing.
        Index(
            "ix_monitors_grid",
            "interval_seconds",
            "spread_key",
            "id",
            sqlite_where=text("paused IS 0 AND ping_token IS NULL"),
            postgresql_where=text("paused IS false AND ping_token IS NULL"),
        ),
    )

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(String(2048))
    interval_seconds: Mapped[int] = mapped_column(default=300)
    confirmation_count: Mapped[int] = mapped_column(default=2)
    timeout_seconds: Mapped[int] = mapped_column(default=10)
    paused: Mapped[bool] = mapped_column(default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    #: Places the monitor's checks in its interval: they are due at every epoch millisecond
    #: ``t`` with ``t % interval == spread_key % interval`` (see :mod:`aloft.engine.scheduler`).
    #: Random, so the checks of many monitors with one interval spread over it.
    spread_key: Mapped[int] = mapped_column(BigInteger, default=new_spread_key)
    last_checked_at: Mapped[datetime | None]
    #: When the monitor's first result was recorded (a heartbeat's first ping that ended a run,
    #: or its first missed deadline): a passive monitor's uptime counts from it, not from its
    #: pending time before (see :mod:`aloft.stats.outages`).
    first_result_at: Mapped[datetime | None]
    #: Passive monitors receive pings at a URL with this secret token in it (None for
    #: monitors that reach out); a monitor never pinged counts its silence from the issue.
    ping_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    ping_token_issued_at: Mapped[datetime | None]
    #: The newest ping that reported how a run ended (``success`` or ``fail``), and when.
    last_ping_at: Mapped[datetime | None]
    last_ping_kind: Mapped[str | None] = mapped_column(String(16))
    #: The newest ``start`` ping: a run is under way while it is newer than ``last_ping_at``.
    last_started_at: Mapped[datetime | None]
    #: Passive monitors: when silence turns into a missed run (the next expected run plus the
    #: grace, or a started run's grace), found by the scheduler through its index. None for
    #: monitors that reach out and for paused ones.
    next_deadline_at: Mapped[datetime | None]
    #: Last change by a person (checks do not touch it).
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    channels: Mapped[list[Channel]] = relationship(secondary=monitor_channels, back_populates="monitors")

    @property
    def channel_ids(self) -> list[str]:
        return [channel.id for channel in self.channels]
