"""The audit trail: recording security-relevant events, with who, what, when and from where.

Who is the signed-in person (their e-mail) or the API key (``key ur_AbCdEfGhI``, its display
prefix) making the request, unless the caller names someone. Details carry names, ids and
roles, never a secret: no password, token or channel setting is ever passed here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import g, has_request_context, request
from flask_login import current_user
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

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


def prune_events(session: Session, keep_days: int, now: datetime, *, chunk: int = 1000) -> int:
    """Delete events older than ``keep_days``, ``chunk`` at a time (short transactions); returns how many."""
    cutoff = now - timedelta(days=keep_days)
    deleted = 0
    while True:
        ids = session.scalars(select(AuditEvent.id).where(AuditEvent.created_at < cutoff).limit(chunk)).all()
        if not ids:
            return deleted
        deleted += session.execute(delete(AuditEvent).where(AuditEvent.id.in_(ids))).rowcount
        session.commit()
