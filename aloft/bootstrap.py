"""First start: the organization, the admin user, the admin's API key and a link to set their password."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from aloft.config import Settings
from aloft.extensions import db
from aloft.keys import new_key
from aloft.models import Membership, Organization, User
from aloft.people.links import link_url, new_link

BOOTSTRAP_KEY_NAME = "admin (created by aloft up)"


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:64] or "default"


@dataclass(frozen=True)
class Bootstrapped:
    """What the first start shows once: the admin key's token and the admin's setup link."""

    token: str
    setup_url: str


def bootstrap(settings: Settings) -> Bootstrapped | None:
    """Create the first organization, its admin, an admin key and a setup link (24 h), once.

    Returns the key's raw token and the link, or None when an organization already exists
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
    _link, setup_token = new_link("setup", user=user)
    try:
        db.session.commit()
    except IntegrityError:
        # Another process bootstrapped at the same moment; its key is the one printed.
        db.session.rollback()
        return None
    return Bootstrapped(token, link_url("setup", setup_token))
