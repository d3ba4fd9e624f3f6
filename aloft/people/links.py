"""One-time links (set a first password, reset one, accept an invitation): made, found, used.

The raw token exists only in the link handed out; the database keeps its keyed hash. A link
found by :func:`find_link` is unexpired and unused; :func:`use_link` spends it.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from aloft.extensions import db
from aloft.keys import hash_token
from aloft.models import OneTimeLink, utcnow

#: How long each kind of link stays valid.
LIFETIMES = {"setup": timedelta(hours=24), "reset": timedelta(hours=1), "invite": timedelta(days=7)}
#: The page each kind of link opens.
PATHS = {"setup": "/setup/", "reset": "/reset/", "invite": "/invite/"}


def _hash(token: str) -> str:
    return hash_token(current_app.extensions["aloft.settings"].secret_key, "link:" + token)


def new_link(purpose: str, **fields: object) -> tuple[OneTimeLink, str]:
    """Build (and add to the session, uncommitted) a link; return it with its raw token."""
    token = secrets.token_urlsafe(32)
    link = OneTimeLink(purpose=purpose, token_hash=_hash(token), expires_at=utcnow() + LIFETIMES[purpose], **fields)
    db.session.add(link)
    return link, token


def link_url(purpose: str, token: str) -> str:
    return current_app.extensions["aloft.settings"].base_url + PATHS[purpose] + token


def find_link(purpose: str, token: str) -> OneTimeLink | None:
    if not token or len(token) > 200:
        return None
    return db.session.scalar(
        select(OneTimeLink).where(
            OneTimeLink.token_hash == _hash(token),
            OneTimeLink.purpose == purpose,
            OneTimeLink.used_at.is_(None),
            OneTimeLink.expires_at > utcnow(),
        )
    )


def use_link(link: OneTimeLink) -> bool:
    """Spend ``link``; False when another request spent it first (the caller must then stop)."""
    spent = db.session.execute(
        update(OneTimeLink).where(OneTimeLink.id == link.id, OneTimeLink.used_at.is_(None)).values(used_at=utcnow())
    )
    return spent.rowcount == 1


def retire_links(purpose: str, **where: object) -> None:
    """Spend every open link of ``purpose`` matching ``where`` (a new reset link voids the older ones)."""
    conditions = [getattr(OneTimeLink, name) == value for name, value in where.items()]
    db.session.execute(
        update(OneTimeLink)
        .where(OneTimeLink.purpose == purpose, OneTimeLink.used_at.is_(None), *conditions)
        .values(used_at=utcnow())
    )
