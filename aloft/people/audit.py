"""The audit trail: recording security-relevant events, with who, what, when and from where.

Who is the signed-in person (their e-mail) or the API key (``key ur_AbCdEfGhI``, its display
prefix) making the request, unless the caller names someone. Details carry names, ids and
roles, never a secret: no password, token or channel setting is ever passed here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import g, has_request_context, request
from flask_login import current_user
from sqlalchemy import delete

from aloft.extensions import db
from aloft.models import AuditEvent, utcnow

#: Every action the trail records.
ACTIONS = (
    "user.signed_in",
    "user.sign_in_failed",
    "user.signed_out",
    "user.password_changed",
    "user.password_reset",
    "invite.created",
    "invite.revoked",
    "invite.accepted",
    "member.role_changed",
    "member.removed",
    "key.created",
    "key.revoked",
    "channel.created",
    "channel.changed",
    "channel.deleted",
    "monitor.deleted",
    "organization.changed",
)


def request_actor() -> tuple[str, str | None]:
    """Who is acting in this request: a label people read, and the person's id if there is one."""
    if not has_request_context():
        return "operator (command line)", None
    key = g.get("api_key")
    if key is not None:
        return f"key {key.prefix}", key.user_id
    if current_user.is_authenticated:
        return current_user.email, current_user.id
    return "anonymous", None


def record(
    action: str,
    org_id: str | None,
    details: dict[str, Any] | None = None,
    *,
    actor: str | None = None,
    actor_user_id: str | None = None,
) -> AuditEvent:
    """Add an event to the session (the caller's commit stores it with what it records)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if actor is None:
        actor, actor_user_id = request_actor()
    event = AuditEvent(
        org_id=org_id,
        actor=actor[:400],
        actor_user_id=actor_user_id,
        action=action,
        ip=request.remote_addr if has_request_context() else None,
        details=details or None,
        created_at=utcnow(),
    )
    db.session.add(event)
    return event


def prune(keep_days: int) -> int:
    """Delete events older than ``keep_days``; returns how many."""
    cutoff = utcnow() - timedelta(days=keep_days)
    deleted = db.session.execute(delete(AuditEvent).where(AuditEvent.created_at < cutoff)).rowcount
    db.session.commit()
    return deleted
