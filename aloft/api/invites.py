"""``/api/v1/invites``: open invitations to the caller's organization; admins make and withdraw them.

An invitation is a one-time link for an e-mail and a role, valid 7 days. Its URL is in the
answer that creates it (and only there), and it is e-mailed when SMTP is set up.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from aloft.access import MANAGE_MEMBERS
from aloft.api.auth import current_org_id, current_user_id
from aloft.api.blueprint import Blueprint
from aloft.api.errors import ApiError
from aloft.api.fields import OkSchema, Timestamp
from aloft.api.members import ROLE_DESCRIPTION
from aloft.api.paging import PageArgs
from aloft.api.resources import find_in_org, list_envelope
from aloft.extensions import db
from aloft.models import ROLES, Membership, OneTimeLink, Organization, User, utcnow
from aloft.people import audit, invites
from aloft.people.accounts import normalize_email

blp = Blueprint(
    "invites",
    __name__,
    url_prefix="/api/v1/invites",
    scope_family="team",
    actions={"POST": MANAGE_MEMBERS, "DELETE": MANAGE_MEMBERS},
    description="Invitations to the caller's organization. Needs `team:read` / `team:write`; making and "
    "withdrawing them is an admin's.",
)

INVITE_NOT_FOUND = "Invitation not found"


class InviteSchema(ma.Schema):
    id = ma.fields.String(required=True)
    email = ma.fields.String(required=True)
    role = ma.fields.String(required=True, metadata={"enum": list(ROLES)})
    invited_by = ma.fields.String(
        attribute="created_by.email", data_key="invitedBy", allow_none=True, required=True, dump_default=None
    )
    created_at = Timestamp(data_key="createdAt", required=True)
    expires_at = Timestamp(data_key="expiresAt", required=True)


class CreatedInviteSchema(InviteSchema):
    url = ma.fields.String(
        required=True, metadata={"description": "The one-time link to send the person. Shown in this response only."}
    )
    emailed = ma.fields.Boolean(required=True, metadata={"description": "Whether Aloft e-mailed the link."})


class InviteListSchema(ma.Schema):
    invites = ma.fields.List(ma.fields.Nested(InviteSchema), required=True)
    next_cursor = ma.fields.String(data_key="nextCursor", allow_none=True)


class CreatedInviteEnvelope(ma.Schema):
    invite = ma.fields.Nested(CreatedInviteSchema, required=True)


class InviteInputSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    email = ma.fields.Email(required=True, validate=ma.validate.Length(max=320))
    role = ma.fields.String(
        load_default="member", validate=ma.validate.OneOf(ROLES), metadata={"description": ROLE_DESCRIPTION}
    )


def open_invites() -> Any:
    return select(OneTimeLink).where(
        OneTimeLink.purpose == "invite",
        OneTimeLink.org_id == current_org_id(),
        OneTimeLink.used_at.is_(None),
        OneTimeLink.expires_at > utcnow(),
    )


@blp.route("")
class Invites(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, InviteListSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List open invitations (unused, unexpired), oldest first; their links are never shown again."""
        query = open_invites().options(joinedload(OneTimeLink.created_by))
        return list_envelope("invites", query, OneTimeLink.created_at, OneTimeLink.id, args)

    @blp.arguments(InviteInputSchema)
    @blp.response(201, CreatedInviteEnvelope)
    @blp.alt_response(409, response="CONFLICT", description="The person is already a member.")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Invite someone by e-mail with a role; the answer holds the link (e-mailed too when SMTP is set up)."""
        email = normalize_email(data["email"])
        member = db.session.scalar(
            select(Membership.id)
            .join(User)
            .where(Membership.org_id == current_org_id(), func.lower(User.email) == email)
        )
        if member is not None:
            raise ApiError(409, f"{email} is already a member of this organization")
        organization = db.session.get(Organization, current_org_id())
        inviter = db.session.get(User, user_id) if (user_id := current_user_id()) else None
        link, url, emailed = invites.invite(organization, email, data["role"], inviter)
        link.url, link.emailed = url, emailed  # type: ignore[attr-defined]  # for this answer only
        return {"invite": link}


@blp.route("/<id:invite_id>")
class InviteById(MethodView):
    @blp.response(200, OkSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, invite_id: str) -> dict[str, bool]:
        """Withdraw an open invitation: its link stops working."""
        link = find_in_org(
            OneTimeLink,
            invite_id,
            INVITE_NOT_FOUND,
            OneTimeLink.purpose == "invite",
            OneTimeLink.used_at.is_(None),
            OneTimeLink.expires_at > utcnow(),
        )
        link.used_at = utcnow()
        audit.record("invite.revoked", link.org_id, {"inviteId": link.id, "email": link.email, "role": link.role})
        db.session.commit()
        return {"ok": True}
