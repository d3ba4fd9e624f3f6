"""API keys: only a keyed hash of the token and its display prefix are stored.

A key records who minted it: a person (``user_id``), whose role bounds what the key may do,
or the operator (``minted_by_operator``), whose keys act as admins. The flag is set when the
key is minted and never inferred from a missing user: deleting a person sets ``user_id`` to
NULL, and that must leave their keys powerless, not make them the operator's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aloft.models.base import Base, IdMixin, TimestampMixin
from aloft.models.organization import Organization, User


class ApiKey(IdMixin, TimestampMixin, Base):
    __tablename__ = "api_keys"

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    minted_by_operator: Mapped[bool] = mapped_column(default=False, server_default=false())
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: None means every scope.
    scopes: Mapped[list[str] | None] = mapped_column(JSON)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    organization: Mapped[Organization] = relationship()
    user: Mapped[User | None] = relationship()
