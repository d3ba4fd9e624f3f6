"""Browser sessions: a server-side record per signed-in browser, found by a keyed hash of its cookie.

Because the record lives here, ending a session is deleting its row: signing out, changing a
password or leaving an organization ends every session of that person at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aloft.models.base import Base, IdMixin, TimestampMixin
from aloft.models.organization import Organization, User


class WebSession(IdMixin, TimestampMixin, Base):
    __tablename__ = "web_sessions"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: The organization the person is working in; None when they belong to none.
    org_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id", ondelete="SET NULL"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_seen_at: Mapped[datetime]
    ip: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship()
    organization: Mapped[Organization | None] = relationship()
