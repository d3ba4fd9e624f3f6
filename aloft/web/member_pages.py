"""Members: who is in the organization with which role, open invitations; admins invite, change roles and remove.

The services are the people issue's (aloft.people.members, aloft.people.invites), the ones the
API calls. An invitation's link is shown once, like a key's token (aloft.web.shown_once).
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from aloft.access import MANAGE_MEMBERS
from aloft.api.invites import open_invites
from aloft.extensions import db
from aloft.models import ROLES, Membership, OneTimeLink, Organization, User, is_id, utcnow
from aloft.people import audit, invites
from aloft.people.accounts import normalize_email
from aloft.people.members import LastAdmin, change_role, remove
from aloft.web.access import require_action, require_scope, signed_in_page, viewer
from aloft.web.blueprint import bp
from aloft.web.forms import check_csrf
from aloft.web.shown_once import show_once, take

NEW_INVITE = "aloft.new_invite_url"


@bp.get("/members")
@signed_in_page
def members() -> Any:
    require_scope("team:read")
    invite_url, facts = take(NEW_INVITE)
    response = current_app.make_response(
        render_template(
            "members.html",
            members=db.session.scalars(
                select(Membership)
                .where(Membership.org_id == viewer().org_id)
                .options(joinedload(Membership.user))
                .order_by(Membership.created_at, Membership.id)
            ).all(),
            invites=db.session.scalars(
                open_invites().options(joinedload(OneTimeLink.created_by)).order_by(OneTimeLink.created_at)
            ).all(),
            invite_url=invite_url,
            invite_emailed=bool(facts.get("emailed")),
            roles=ROLES,
            may_manage=viewer().may(MANAGE_MEMBERS),
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def membership(member_id: str) -> Membership:
    found = (
        db.session.scalar(select(Membership).where(Membership.id == member_id, Membership.org_id == viewer().org_id))
        if is_id(member_id)
        else None
    )
    if found is None:
        abort(404)
    return found


@bp.post("/members/<member_id>/role")
@signed_in_page
def change_member_role(member_id: str) -> Any:
    check_csrf()
    require_action(MANAGE_MEMBERS)
    found, role = membership(member_id), request.form.get("role", "")
    if role not in ROLES:
        abort(400, f"Unknown role: choose one of {', '.join(ROLES)}.")
    try:
        change_role(found, role)
    except LastAdmin as refused:
        db.session.rollback()
        flash(str(refused), "error")
        return redirect(url_for("web.members"))
    db.session.commit()
    flash(f"{found.user.email} is now {role}.", "info")
    return redirect(url_for("web.members"))


@bp.post("/members/<member_id>/remove")
@signed_in_page
def remove_member(member_id: str) -> Any:
    check_csrf()
    require_action(MANAGE_MEMBERS)
    found = membership(member_id)
    email = found.user.email
    try:
        remove(found)
    except LastAdmin as refused:
        db.session.rollback()
        flash(str(refused), "error")
        return redirect(url_for("web.members"))
    db.session.commit()
    flash(f"Removed {email}; their sessions are ended and their keys stop working.", "info")
    return redirect(url_for("web.members"))


@bp.post("/members/invite")
@signed_in_page
def invite_member() -> Any:
    check_csrf()
    require_action(MANAGE_MEMBERS)
    email, role = normalize_email(request.form.get("email", "")[:320]), request.form.get("role", "member")
    if "@" not in email or role not in ROLES:
        flash("Give an e-mail address and a role.", "error")
        return redirect(url_for("web.members"))
    org_id = viewer().org_id
    already = db.session.scalar(
        select(Membership.id).join(User).where(Membership.org_id == org_id, func.lower(User.email) == email)
    )
    if already is not None:
        flash(f"{email} is already a member of this organization.", "error")
        return redirect(url_for("web.members"))
    _link, url, emailed = invites.invite(
        db.session.get(Organization, org_id), email, role, db.session.get(User, viewer().user_id)
    )
    show_once(NEW_INVITE, url, emailed=emailed)
    return redirect(url_for("web.members"))


@bp.post("/members/invites/<invite_id>/withdraw")
@signed_in_page
def withdraw_invite(invite_id: str) -> Any:
    check_csrf()
    require_action(MANAGE_MEMBERS)
    link = (
        db.session.scalar(open_invites().where(OneTimeLink.id == invite_id, OneTimeLink.org_id == viewer().org_id))
        if is_id(invite_id)
        else None
    )
    if link is None:
        abort(404)
    link.used_at = utcnow()
    audit.record("invite.revoked", link.org_id, {"inviteId": link.id, "email": link.email, "role": link.role})
    db.session.commit()
    flash(f"Withdrew the invitation of {link.email}.", "info")
    return redirect(url_for("web.members"))
