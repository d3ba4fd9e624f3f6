"""Invitations: a one-time link for an e-mail and a role in an organization, valid 7 days.

The admin who makes one always sees the link; it is also mailed when SMTP is set up.
Accepting it makes the person a member with that role (a person already a member keeps
their membership and its role).
"""

from __future__ import annotations

from sqlalchemy import select

from aloft.extensions import db
from aloft.models import Membership, OneTimeLink, Organization, User
from aloft.people import audit
from aloft.people.links import link_url, new_link, use_link
from aloft.people.mail import send_mail


def invite(organization: Organization, email: str, role: str, invited_by: User | None) -> tuple[OneTimeLink, str, bool]:
    """Make (and commit) an invitation; return it, its URL and whether it was e-mailed (when SMTP is set up)."""
    link, token = new_link("invite", organization=organization, email=email, role=role, created_by=invited_by)
    audit.record("invite.created", organization.id, {"email": email, "role": role})
    db.session.commit()
    url = link_url("invite", token)
    inviter = invited_by.name or invited_by.email if invited_by else "An administrator"
    emailed = send_mail(
        email,
        f"You are invited to {organization.name}",
        f"{inviter} invites you to {organization.name} on Aloft, as {role}.\n\n"
        f"Join here (the link works once, for 7 days):\n{url}\n",
    )
    return link, url, emailed


def accept(link: OneTimeLink, user: User) -> bool:
    """Spend ``link`` and make ``user`` a member; False when the link was spent meanwhile."""
    if not use_link(link):
        return False
    existing = db.session.scalar(
        select(Membership).where(Membership.org_id == link.org_id, Membership.user_id == user.id)
    )
    if existing is None:
        db.session.add(Membership(org_id=link.org_id, user=user, role=link.role))
    audit.record("invite.accepted", link.org_id, {"role": link.role}, actor=user.email, actor_user_id=user.id)
    return True
