"""One-time links: setting a first password, resetting one, joining an organization.

Only a keyed hash of the link's token is stored. A link is used at most once (``used_at``)
and not after ``expires_at``. An invitation (``purpose == "invite"``) names an e-mail, an
organization and a role; the other purposes name the user whose password they set.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aloft.models.base import Base, IdMixin, TimestampMixin, one_of
from aloft.models.organization import ROLES, Organization, User

PURPOSES = ("setup", "reset", "invite")


class OneTimeLink(IdMixin, TimestampMixin, Base):
    __tablename__ = "one_time_links"
    __table_args__ = (
        CheckConstraint(one_of("purpose", PURPOSES), name="purpose"),
        CheckConstraint(one_of("role", ROLES), name="role"),
    )

    purpose: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str | None] = mapped_column(String(16))
    #: Who made an invitation (None once they are deleted, or for the operator).
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    organization: Mapped[Organization | None] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
