"""Browser sessions: a server-side record per signed-in browser, carried by an HttpOnly cookie.

The cookie holds a random token; the database keeps its keyed hash (:class:`WebSession`), the
person and the organization they are working in. Flask-Login's ``current_user`` is the
:class:`User` whose session the cookie names, or anonymous. A session ends when it has not
been used for ``ALOFT_SESSION_IDLE_HOURS``, ``ALOFT_SESSION_MAX_DAYS`` after sign-in, or when
its row is deleted: signing out, a password change and leaving an organization delete them.

Signing in always makes a new session (and a new CSRF secret): a token planted in a browser
before sign-in is never the one that gets signed in.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import Flask, Response, current_app, g, request, session
from flask_login import login_user, logout_user
from sqlalchemy import delete, select, update

from aloft import held_connections
from aloft.extensions import db, login_manager
from aloft.keys import hash_token
from aloft.models import Membership, Organization, User, WebSession, utcnow

COOKIE = "aloft_session"
#: last_seen_at is written at most this often per session, not on every request.
TOUCH_RESOLUTION = timedelta(seconds=60)
# Per-request state lives in the WSGI environ, not ``g``: ``g`` belongs to the app context,
# which outlives a request wherever one is held open around requests (as tests do).
#: This response must set (a token) or clear (``""``) the session cookie.
_PENDING_COOKIE = "aloft.pending_session_cookie"
_SESSION = "aloft.web_session"
_MEMBERSHIP = "aloft.active_membership"


def init_app(app: Flask) -> None:
    settings = app.extensions["aloft.settings"]
    app.config.update(
        # Flask's own (signed, client-side) session holds only the CSRF secret.
        SESSION_COOKIE_NAME="aloft_csrf",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        WTF_CSRF_TIME_LIMIT=None,  # the secret lives as long as the browser session
    )
    login_manager.init_app(app)
    login_manager.session_protection = None  # the server-side record is the protection
    login_manager.login_view = "people.sign_in"
    login_manager.login_message = None
    app.before_request(_forget_previous_user)
    app.after_request(_write_cookie)


def _forget_previous_user() -> None:
    """Flask-Login keeps the user, and Flask-WTF the CSRF token, in ``g``; each request finds its own."""
    g.pop("_login_user", None)
    _forget_csrf_token()


def _forget_csrf_token() -> None:
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


@login_manager.user_loader
def _ignore_flask_session(user_id: str) -> None:
    """Flask's cookie never authenticates anyone: only the server-side session does."""
    return None


@login_manager.request_loader
def _load_from_cookie(_request: object) -> User | None:
    web_session = current_session()
    return web_session.user if web_session is not None else None


def _hash(token: str) -> str:
    return hash_token(current_app.extensions["aloft.settings"].secret_key, "session:" + token)


def current_session() -> WebSession | None:
    """The live session the request's cookie names, or None; looked up once per request."""
    if _SESSION in request.environ:
        return request.environ[_SESSION]
    request.environ[_SESSION] = None
    token = request.cookies.get(COOKIE, "")
    if not token or len(token) > 100:
        return None
    found = db.session.scalar(select(WebSession).where(WebSession.token_hash == _hash(token)))
    if found is None:
        return None
    settings = current_app.extensions["aloft.settings"]
    now = utcnow()
    if now - found.last_seen_at >= timedelta(hours=settings.session_idle_hours) or now - found.created_at >= timedelta(
        days=settings.session_max_days
    ):
        db.session.delete(found)
        db.session.commit()
        request.environ.setdefault(_PENDING_COOKIE, "")
        return None
    if now - found.last_seen_at >= TOUCH_RESOLUTION:
        db.session.execute(update(WebSession).where(WebSession.id == found.id).values(last_seen_at=now))
        db.session.commit()
    request.environ[_SESSION] = found
    return found


_FRESH_SESSION = (
    "SELECT web_sessions.org_id, web_sessions.created_at, web_sessions.last_seen_at, organizations.state_version "
    "FROM web_sessions JOIN organizations ON organizations.id = web_sessions.org_id "
    "WHERE web_sessions.token_hash = ?"
)


def session_state_version() -> tuple[str, int] | None:
    """The organization the cookie's live session works in and that organization's state version,
    or None when nobody is signed in (or they work in no organization).

    For the dashboard's poll, asked every few seconds by every open dashboard: one statement
    when the session is fresh. A session due for its touch, or past its expiry, takes the
    whole :func:`current_session` path, which touches or ends it.
    """
    token = request.cookies.get(COOKIE, "")
    if _SESSION not in request.environ and token and len(token) <= 100:
        # On the thread's kept connection: no pool checkout, no liveness round trip, no transaction.
        row = held_connections.fetch_one(db.engine, _FRESH_SESSION, (_hash(token),))
        settings = current_app.extensions["aloft.settings"]
        now = utcnow()
        if (
            row is not None
            and now - held_connections.stored_time(row[2]) < TOUCH_RESOLUTION
            and now - held_connections.stored_time(row[1]) < timedelta(days=settings.session_max_days)
        ):
            return row[0], row[3]
    web_session = current_session()
    if web_session is None or web_session.org_id is None:
        return None
    version = db.session.scalar(select(Organization.state_version).where(Organization.id == web_session.org_id))
    return web_session.org_id, version or 0


def start_session(user: User, org_id: str | None = None) -> WebSession:
    """Sign ``user`` in on this browser: a new session (in ``org_id``, else their first
    organization), a new cookie and a new CSRF secret; the session the browser had ends."""
    previous = current_session()
    if previous is not None:
        db.session.delete(previous)
    if org_id is None:
        org_id = db.session.scalar(
            select(Membership.org_id)
            .where(Membership.user_id == user.id)
            .order_by(Membership.created_at, Membership.id)
            .limit(1)
        )
    token = secrets.token_urlsafe(32)
    now = utcnow()
    web_session = WebSession(
        user=user, org_id=org_id, token_hash=_hash(token), created_at=now, last_seen_at=now, ip=request.remote_addr
    )
    db.session.add(web_session)
    db.session.commit()
    session.clear()
    _forget_csrf_token()
    request.environ[_SESSION] = web_session
    request.environ.pop(_MEMBERSHIP, None)
    request.environ[_PENDING_COOKIE] = token
    login_user(user)
    return web_session


def end_session() -> None:
    """Sign this browser out."""
    web_session = current_session()
    if web_session is not None:
        db.session.delete(web_session)
        db.session.commit()
    request.environ[_SESSION] = None
    request.environ.pop(_MEMBERSHIP, None)
    request.environ[_PENDING_COOKIE] = ""
    session.clear()
    _forget_csrf_token()
    logout_user()


def end_sessions_of(user_id: str, *, keep: WebSession | None = None) -> int:
    """End every session of a person (but ``keep``), at once; the caller commits."""
    statement = delete(WebSession).where(WebSession.user_id == user_id)
    if keep is not None:
        statement = statement.where(WebSession.id != keep.id)
    return db.session.execute(statement).rowcount


def active_membership() -> Membership | None:
    """The signed-in person's membership in the organization they are working in: its
    ``organization`` and ``role``. None when nobody is signed in, or they belong to no organization."""
    web_session = current_session()
    if web_session is None or web_session.org_id is None:
        return None
    if _MEMBERSHIP not in request.environ:
        request.environ[_MEMBERSHIP] = db.session.scalar(
            select(Membership).where(Membership.user_id == web_session.user_id, Membership.org_id == web_session.org_id)
        )
    return request.environ[_MEMBERSHIP]


def memberships_of(user: User) -> list[Membership]:
    """Every organization ``user`` belongs to, oldest membership first (for switching between them)."""
    return list(
        db.session.scalars(
            select(Membership).where(Membership.user_id == user.id).order_by(Membership.created_at, Membership.id)
        )
    )


def switch_organization(org_id: str) -> bool:
    """Work in ``org_id`` from now on in this session; False when the person is not a member of it."""
    web_session = current_session()
    if web_session is None:
        return False
    member = db.session.scalar(
        select(Membership.id).where(Membership.user_id == web_session.user_id, Membership.org_id == org_id)
    )
    if member is None:
        return False
    web_session.org_id = org_id
    db.session.commit()
    request.environ.pop(_MEMBERSHIP, None)
    return True


def _write_cookie(response: Response) -> Response:
    token = request.environ.pop(_PENDING_COOKIE, None)
    if token is None:
        return response
    settings = current_app.extensions["aloft.settings"]
    if token == "":
        response.delete_cookie(COOKIE, httponly=True, samesite="Lax", secure=settings.secure_cookies)
    else:
        response.set_cookie(
            COOKIE,
            token,
            max_age=int(timedelta(days=settings.session_max_days).total_seconds()),
            httponly=True,
            samesite="Lax",
            secure=settings.secure_cookies,
        )
    return response
