"""Pings: how passive monitors hear from the jobs they watch.

A monitor of a passive type gets a secret token; its ping URL is ``<ALOFT_BASE_URL>/heartbeat/<token>``.
The plugin that serves that route hands each ping to :func:`record_ping`, which stores it, keeps
the monitor's newest outcome for the engine (see ``CheckTarget.last_ping_at``) and prunes the
monitor's history to :data:`PINGS_KEPT` pings.
"""

from __future__ import annotations

import re
import secrets

from sqlalchemy import delete, or_, select, update

from aloft.extensions import db
from aloft.models import PING_KINDS, Monitor, Ping, utcnow

#: Where pings are received: ``<PING_PATH>/<token>``, ``…/start`` and ``…/fail``.
PING_PATH = "/heartbeat"
#: 24 random bytes: 192 bits, written as 32 URL-safe characters.
TOKEN_BYTES = 24
#: Pings stored per monitor; older ones are deleted as new ones arrive.
PINGS_KEPT = 100
BODY_EXCERPT_CHARS = Ping.__table__.c.body.type.length
SOURCE_IP_CHARS = Ping.__table__.c.source_ip.type.length
USER_AGENT_CHARS = Ping.__table__.c.user_agent.type.length
TOKEN_CHARS = Monitor.__table__.c.ping_token.type.length
#: What a token can look like: URL-safe base64 (what ``token_urlsafe`` writes) that fits its column.
TOKEN_FORM = re.compile(rf"[A-Za-z0-9_-]{{1,{TOKEN_CHARS}}}")


def new_ping_token() -> str:
    """An unguessable token for a ping URL."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def ping_url(base_url: str, token: str | None) -> str | None:
    """The URL a job pings, or None for a monitor that receives no pings."""
    return f"{base_url}{PING_PATH}/{token}" if token else None


def expect_pings(monitor: Monitor, passive: bool) -> None:
    """Give a monitor of a passive type a ping token, once; take it away when its type reaches out.

    A new token starts afresh: silence counts from now, and pings of an earlier spell as a
    passive monitor no longer count.
    """
    if passive == (monitor.ping_token is not None):
        return
    monitor.ping_token = new_ping_token() if passive else None
    monitor.ping_token_issued_at = utcnow() if passive else None
    monitor.last_ping_at = None
    monitor.last_ping_kind = None


def is_ping_token(token: str) -> bool:
    """True when a monitor has this ping token; a token of no possible form is not looked up."""
    if TOKEN_FORM.fullmatch(token) is None:
        return False
    return db.session.scalar(select(Monitor.id).where(Monitor.ping_token == token)) is not None


def record_ping(
    token: str,
    kind: str,
    *,
    method: str | None = None,
    source_ip: str | None = None,
    user_agent: str | None = None,
    body: str | None = None,
) -> Ping | None:
    """Store a ping for the monitor whose token this is; None when no monitor has it.

    ``kind`` is ``success``, ``fail`` or ``start``; a start reports no outcome, so it leaves
    the monitor's last ping as it was.
    """
    if kind not in PING_KINDS:
        raise ValueError(f"unknown ping kind {kind!r}; expected one of {', '.join(PING_KINDS)}")
    if TOKEN_FORM.fullmatch(token) is None:
        return None  # no token has this form: nothing to look up
    monitor_id = db.session.scalar(select(Monitor.id).where(Monitor.ping_token == token))
    if monitor_id is None:
        return None
    now = utcnow()
    ping = Ping(
        monitor_id=monitor_id,
        received_at=now,
        kind=kind,
        method=method,
        source_ip=_excerpt(source_ip, SOURCE_IP_CHARS),
        user_agent=_excerpt(user_agent, USER_AGENT_CHARS),
        body=_excerpt(body, BODY_EXCERPT_CHARS),
    )
    db.session.add(ping)
    if kind != "start":
        # Two pings racing: the later one wins, whichever commits last.
        db.session.execute(
            update(Monitor)
            .where(Monitor.id == monitor_id, or_(Monitor.last_ping_at.is_(None), Monitor.last_ping_at <= now))
            .values(last_ping_at=now, last_ping_kind=kind)
        )
    db.session.flush()
    prune(monitor_id)
    db.session.commit()
    return ping


def prune(monitor_id: str) -> None:
    """Delete all but the monitor's :data:`PINGS_KEPT` newest pings."""
    oldest_kept = db.session.scalar(
        select(Ping.id).where(Ping.monitor_id == monitor_id).order_by(Ping.id.desc()).offset(PINGS_KEPT - 1).limit(1)
    )
    if oldest_kept is not None:
        db.session.execute(delete(Ping).where(Ping.monitor_id == monitor_id, Ping.id < oldest_kept))


def _excerpt(text: str | None, length: int) -> str | None:
    # What a job sends is kept as text, and no database column keeps NUL: it becomes U+FFFD,
    # as bytes that are not UTF-8 do.
    return text[:length].replace("\x00", "\ufffd") if text else None
