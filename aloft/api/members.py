"""``/api/v1/members``: who is in the caller's organization, with which role; admins change and remove them.

A demoted or removed person's keys lose what the new role does not allow on their very next
request (keys read their minter's role per request, :mod:`aloft.access`). The last admin can
be neither demoted nor removed.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from aloft.access import MANAGE_MEMBERS
from aloft.api.auth import current_org_id
from aloft.api.blueprint import Blueprint
from aloft.api.errors import ApiError
from aloft.api.fields import OkSchema, Timestamp
from aloft.api.paging import PageArgs
from aloft.api.resources import find_in_org, list_envelope
from aloft.extensions import db
from aloft.models import ROLES, Membership
from aloft.people.members import LastAdmin, change_role, remove

blp = Blueprint(
    "members",
    __name__,
    url_prefix="/api/v1/members",
    scope_family="team",
    actions={"PATCH": MANAGE_MEMBERS, "DELETE": MANAGE_MEMBERS},
    description="Members of the caller's organization and their roles. Needs `team:read` / `team:write`; "
    "changes are an admin's.",
)

MEMBER_NOT_FOUND = "Member not found"
ROLE_DESCRIPTION = (
    "`admin`: everything, including members, others' keys and organization settings; "
    "`member`: monitors, channels, incidents and their own keys; `viewer`: read only."
)


class MemberSchema(ma.Schema):
    id = ma.fields.String(required=True, metadata={"description": "The membership's id (used in the paths)."})
    user_id = ma.fields.String(data_key="userId", required=True)
    email = ma.fields.String(attribute="user.email", required=True)
    name = ma.fields.String(attribute="user.name", required=True)
    role = ma.fields.String(required=True, metadata={"enum": list(ROLES), "description": ROLE_DESCRIPTION})
    created_at = Timestamp(data_key="joinedAt", required=True)


class MemberListSchema(ma.Schema):
    members = ma.fields.List(ma.fields.Nested(MemberSchema), required=True)
    next_cursor = ma.fields.String(data_key="nextCursor", allow_none=True)


class MemberEnvelope(ma.Schema):
    member = ma.fields.Nested(MemberSchema, required=True)


class MemberPatchSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    role = ma.fields.String(
        required=True, validate=ma.validate.OneOf(ROLES), metadata={"description": ROLE_DESCRIPTION}
    )


@blp.route("")
class Members(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, MemberListSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List the organization's members, longest-standing first; page with `limit` and `cursor`."""
        query = select(Membership).where(Membership.org_id == current_org_id()).options(joinedload(Membership.user))
        return list_envelope("members", query, Membership.created_at, Membership.id, args)


@blp.route("/<id:member_id>")
class MemberById(MethodView):
    @blp.arguments(MemberPatchSchema)
    @blp.response(200, MemberEnvelope)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT", description="It would leave the organization without an admin.")
    def patch(self, changes: dict[str, Any], member_id: str) -> dict[str, Any]:
        """Change a member's role. Their sessions and keys act with the new role from their next request."""
        membership = find_in_org(Membership, member_id, MEMBER_NOT_FOUND)
        try:
            change_role(membership, changes["role"])
        except LastAdmin as refused:
            raise ApiError(409, str(refused)) from None
        db.session.commit()
        return {"member": membership}

    @blp.response(200, OkSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT", description="It would leave the organization without an admin.")
    def delete(self, member_id: str) -> dict[str, bool]:
        """Remove a member: their sessions end, and the keys they minted stop working at once."""
        membership = find_in_org(Membership, member_id, MEMBER_NOT_FOUND)
        try:
            remove(membership)
        except LastAdmin as refused:
            raise ApiError(409, str(refused)) from None
        db.session.commit()
        return {"ok": True}
