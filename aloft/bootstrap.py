"""First start: the organization, the admin user and the admin's API key."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from aloft.config import Settings
from aloft.extensions import db
from aloft.keys import new_key
from aloft.models import Membership, Organization, User

BOOTSTRAP_KEY_NAME = "admin (created by aloft up)"


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:64] or "default"


def bootstrap(settings: Settings) -> str | None:
    """Create the first organization, its admin and an admin key, once.

    Returns the new key's raw token, or None when an organization already exists
    (so a second start neither creates a second organization nor a new key).
    """
    if db.session.scalar(select(Organization.id).limit(1)) is not None:
        return None
    organization = Organization(slug=slugify(settings.org_name), name=settings.org_name)
    user = db.session.scalar(select(User).where(User.email == settings.admin_email))
    if user is None:
        user = User(email=settings.admin_email, name="Admin")
    key, token = new_key(settings.secret_key, organization, BOOTSTRAP_KEY_NAME, user=user)
    db.session.add_all([organization, user, Membership(organization=organization, user=user, role="admin"), key])
    try:
        db.session.commit()
    except IntegrityError:
        # Another process bootstrapped at the same moment; its key is the one printed.
        db.session.rollback()
        return None
    return token
