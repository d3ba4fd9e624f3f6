"""Notification channels and the deliveries (outbox rows) sent through them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aloft.models.base import Base, IdMixin, TimestampMixin, one_of, utcnow
from aloft.models.monitor import Monitor, monitor_channels

DELIVERY_STATUSES = ("pending", "sent", "failed")


class Channel(IdMixin, TimestampMixin, Base):
    __tablename__ = "channels"

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Set when a delivery failed permanently (a revoked webhook, say); cleared on edit.
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    #: Last change by a person (checks do not touch it).
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    monitors: Mapped[list[Monitor]] = relationship(secondary=monitor_channels, back_populates="channels")


class Delivery(IdMixin, TimestampMixin, Base):
    """One notification for one channel: written with the state change that calls for it (an outbox row),
    then sent, retried with backoff, and marked ``sent`` or ``failed``."""

    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint(one_of("status", DELIVERY_STATUSES), name="status"),
        # The sweeper's query: pending deliveries whose next attempt is due.
        Index("ix_deliveries_status_next_attempt", "status", "next_attempt_at"),
        Index("ix_deliveries_channel_created", "channel_id", "created_at"),
    )

    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    incident_id: Mapped[str | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    monitor_id: Mapped[str | None] = mapped_column(ForeignKey("monitors.id", ondelete="SET NULL"))
    #: ``opened``, ``resolved``, ``acknowledged`` or ``test``.
    event: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    #: When the sweeper sends it (again) if nobody has by then.
    next_attempt_at: Mapped[datetime | None]
    #: A sender holds it until then; another may take it over afterwards (the first one died).
    claimed_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    #: The notification as it was when the delivery was written (``Notification.as_json``).
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    channel: Mapped[Channel] = relationship()
