"""Changing who is in an organization and with which role, keeping at least one admin.

A role change or a removal takes effect at once: sessions and keys read the role on every
request, and a removed person's sessions are ended (they may be working in another
organization too; they sign in again). The organization's row is locked while its admins are
counted, so two admins demoting each other at the same moment cannot leave it with none.
"""

from __future__ import annotations

from sqlalchemy import func, select

from aloft.extensions import db
from aloft.models import Membership, Organization
from aloft.people import audit
from aloft.people.sessions import end_sessions_of

LAST_ADMIN = "An organization needs an admin: make someone else admin first"


class LastAdmin(Exception):
    """The change would leave the organization without an admin."""


def _lock_admins(org_id: str) -> int:
    db.session.execute(select(Organization.id).where(Organization.id == org_id).with_for_update())
    return db.session.scalar(
        select(func.count()).select_from(Membership).where(Membership.org_id == org_id, Membership.role == "admin")
    )


def change_role(membership: Membership, role: str) -> None:
    """Give ``membership`` ``role`` (the caller commits); :class:`LastAdmin` if it is the last admin's demotion."""
    if membership.role == role:
        return
    if membership.role == "admin" and _lock_admins(membership.org_id) <= 1:
        raise LastAdmin(LAST_ADMIN)
    audit.record(
        "member.role_changed",
        membership.org_id,
        {"memberId": membership.id, "email": membership.user.email, "from": membership.role, "to": role},
    )
    membership.role = role


def remove(membership: Membership) -> None:
    """Take the person out of the organization and end their sessions (the caller commits)."""
    if membership.role == "admin" and _lock_admins(membership.org_id) <= 1:
        raise LastAdmin(LAST_ADMIN)
    audit.record(
        "member.removed",
        membership.org_id,
        {"memberId": membership.id, "email": membership.user.email, "role": membership.role},
    )
    end_sessions_of(membership.user_id)
    db.session.delete(membership)
