"""Organizations, the users in them and their roles.

The roles and what each may do are :mod:`aloft.access`'s; ``ROLES`` here is only the list the
database accepts, in order of power.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aloft.models.base import Base, IdMixin, TimestampMixin, one_of

ROLES = ("admin", "member", "viewer")


class Organization(IdMixin, TimestampMixin, Base):
    __tablename__ = "organizations"

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Bumped by database triggers whenever something GET /api/v1/status shows changes
    #: (migration 0003), so that answer can be cached without ever being stale.
    state_version: Mapped[int] = mapped_column(default=0, server_default="0")
    #: What a new monitor gets for the fields its creator leaves out (``intervalSeconds``...).
    monitor_defaults: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    memberships: Mapped[list[Membership]] = relationship(back_populates="organization", cascade="all, delete-orphan")


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    #: An Argon2id hash (``aloft.people.passwords``); None until the person sets a password.
    password_hash: Mapped[str | None] = mapped_column(String(200))

    # Flask-Login's user protocol: a User object is only ever loaded for a live session.
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return self.id

    memberships: Mapped[list[Membership]] = relationship(back_populates="user", cascade="all, delete-orphan")


class Membership(IdMixin, TimestampMixin, Base):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("org_id", "user_id", name="uq_memberships_org_user"),
        CheckConstraint(one_of("role", ROLES), name="role"),
    )

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))

    organization: Mapped[Organization] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(back_populates="memberships")
