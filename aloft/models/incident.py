"""Incidents: a confirmed outage of a monitor, from opening to resolution."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aloft.models.base import Base, IdMixin, one_of
from aloft.models.check_result import ResultId
from aloft.models.monitor import Monitor

INCIDENT_STATUSES = ("open", "resolved")


class Incident(IdMixin, Base):
    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint(one_of("status", INCIDENT_STATUSES), name="status"),
        # At most one open incident per monitor, whatever races the engine meets.
        Index(
            "uq_incidents_one_open_per_monitor",
            "monitor_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_incidents_org_status_started", "org_id", "status", "started_at"),
        # GET /api/v1/incidents without a status: newest first, a page at a time.
        Index("ix_incidents_org_started", "org_id", "started_at"),
        Index("ix_incidents_monitor_started", "monitor_id", "started_at"),
    )

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    monitor_id: Mapped[str] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    cause: Mapped[str] = mapped_column(String(500))
    started_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    #: Set when a person resolved the incident (its monitor may still be down); None when a check did.
    resolved_by_key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    #: The person who did it from the web UI (the key columns are for the API).
    acknowledged_by_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolved_by_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    opened_by_result_id: Mapped[int | None] = mapped_column(
        ResultId, ForeignKey("check_results.id", ondelete="SET NULL")
    )
    #: A passive monitor's incident opened by a ping (a failure report); None once the ping is pruned.
    opened_by_ping_id: Mapped[int | None] = mapped_column(ResultId, ForeignKey("pings.id", ondelete="SET NULL"))

    monitor: Mapped[Monitor] = relationship()
