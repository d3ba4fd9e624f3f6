"""Deleting what can no longer be used: ended browser sessions and spent or expired one-time links.

A session or link past its time is refused anyway; this only keeps the tables small. Runs
with the hourly prune (:mod:`aloft.stats.pruning`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from aloft.config import Settings
from aloft.models import OneTimeLink, WebSession

#: Spent and expired links are kept this long, so that "already used" can still be told apart for a while.
KEEP_SPENT_LINKS = timedelta(days=7)


def delete_expired(session: Session, settings: Settings, now: datetime, *, chunk: int = 1000) -> int:
    """Delete ended sessions and old links, ``chunk`` at a time; returns how many rows went.

    Each round looks before it deletes, so an hour with nothing to delete writes nothing.
    """
    ended = or_(
        WebSession.last_seen_at < now - timedelta(hours=settings.session_idle_hours),
        WebSession.created_at < now - timedelta(days=settings.session_max_days),
    )
    old = or_(OneTimeLink.expires_at < now - KEEP_SPENT_LINKS, OneTimeLink.used_at < now - KEEP_SPENT_LINKS)
    deleted = 0
    for model, condition in ((WebSession, ended), (OneTimeLink, old)):
        while ids := session.scalars(select(model.id).where(condition).limit(chunk)).all():
            deleted += session.execute(delete(model).where(model.id.in_(ids))).rowcount
            session.commit()
    session.commit()
    return deleted
