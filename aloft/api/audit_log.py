"""``/api/v1/audit-log``: the organization's security-relevant events, newest first; admins only.

Who (an e-mail, or ``key <prefix>``), what (``action``), when, from which IP, and the names
and ids involved. Kept ``ALOFT_KEEP_AUDIT_DAYS``.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import select

from aloft.access import READ_AUDIT_LOG
from aloft.api.auth import current_org_id
from aloft.api.blueprint import Blueprint
from aloft.api.fields import Timestamp
from aloft.api.paging import PageArgs
from aloft.api.resources import list_envelope
from aloft.models import AuditEvent
from aloft.people.audit import ACTIONS

blp = Blueprint(
    "audit-log",
    __name__,
    url_prefix="/api/v1/audit-log",
    scope_family="team",
    actions={"GET": READ_AUDIT_LOG},
    description="The organization's audit trail. Needs `team:read` and an admin.",
)

DEFAULT_PAGE = 100


class AuditEventSchema(ma.Schema):
    id = ma.fields.String(required=True)
    at = Timestamp(attribute="created_at", required=True)
    actor = ma.fields.String(
        required=True, metadata={"description": "The person's e-mail, `key <prefix>`, or `operator (command line)`."}
    )
    actor_user_id = ma.fields.String(data_key="actorUserId", allow_none=True, required=True)
    action = ma.fields.String(required=True, metadata={"enum": list(ACTIONS)})
    ip = ma.fields.String(allow_none=True, required=True)
    details = ma.fields.Dict(
        allow_none=True, required=True, metadata={"description": "Names and ids involved; never a secret."}
    )


class AuditLogSchema(ma.Schema):
    events = ma.fields.List(ma.fields.Nested(AuditEventSchema), required=True)
    next_cursor = ma.fields.String(data_key="nextCursor", allow_none=True, required=True)


class AuditLogArgs(PageArgs):
    actor = ma.fields.String(
        validate=ma.validate.Length(max=400), metadata={"description": "Only events of this actor (exact)."}
    )
    action = ma.fields.String(validate=ma.validate.OneOf(ACTIONS), metadata={"description": "Only this action."})


@blp.route("")
class AuditLog(MethodView):
    @blp.arguments(AuditLogArgs, location="query")
    @blp.response(200, AuditLogSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Events newest first, in pages of `limit` (default 100); pass `nextCursor` as `cursor` for older ones."""
        query = select(AuditEvent).where(AuditEvent.org_id == current_org_id())
        if "actor" in args:
            query = query.where(AuditEvent.actor == args["actor"])
        if "action" in args:
            query = query.where(AuditEvent.action == args["action"])
        return list_envelope(
            "events", query, AuditEvent.created_at, AuditEvent.id, args, newest_first=True, default_limit=DEFAULT_PAGE
        )
