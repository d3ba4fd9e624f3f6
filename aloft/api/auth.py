"""Who is calling: the Bearer token names an API key, its organization and what it may do.

Two request hooks sandwich the rate limiter, so that a refused request is still counted
and still carries the ``X-RateLimit-*`` headers: :func:`identify` finds the key (or notes
why there is none), the limiter counts the request against that key or the client IP,
and :func:`enforce` answers 401 or 403 before the view runs. A request to an unknown path
under ``/api/v1`` is identified too (it counts against its key) but answers 404 or 405.

What a key may do (:mod:`aloft.access`) depends on its minter's role, read in the same query
as the key on every request: a demotion or removal applies to the very next request.

A request without an ``Authorization`` header may instead be made by a signed-in browser
(:mod:`aloft.people.sessions`), but only with the session's CSRF token in ``X-CSRFToken``:
a session alone, which any page can make a browser send, never authenticates ``/api/v1``.
It then acts with its person's role in the organization they work in.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, g, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import ValidationError, validate_csrf
from sqlalchemy import and_, select, update

from aloft.access import Rights, key_rights, role_rights
from aloft.api.blueprint import Blueprint
from aloft.api.errors import error_response
from aloft.extensions import db
from aloft.keys import hash_token, looks_like_token
from aloft.models import ApiKey, Membership, User, utcnow
from aloft.people.sessions import COOKIE, active_membership, current_session

MISSING_HEADER = "Missing or malformed Authorization header. Expected 'Bearer <token>'."
INVALID_TOKEN = "Invalid API token"
EXPIRED_TOKEN = "API token expired"
MISSING_CSRF = "Missing or invalid CSRF token: a browser session must send it in the X-CSRFToken header."
NO_ORGANIZATION = "You are not a member of any organization."
API_PREFIX = "/api/v1"
#: lastUsedAt is written at most this often per key, not on every request.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def endpoint_blueprint() -> Blueprint | None:
    """The Aloft blueprint serving this request, if it needs an API key."""
    blueprint = current_app.blueprints.get(request.blueprint or "")
    if isinstance(blueprint, Blueprint) and blueprint.needs_key:
        return blueprint
    return None


def unknown_api_path() -> bool:
    """True for a request under ``/api/v1`` that no route serves (a 404 or a 405)."""
    return request.url_rule is None and (request.path + "/").startswith(f"{API_PREFIX}/")


def identify() -> None:
    g.api_key = None
    g.session_user = None
    g.org_id = None
    g.rights = None
    g.auth_error = None
    g.auth_required = endpoint_blueprint() is not None
    # An unknown path needs no key, but a key it carries is what the request counts against.
    g.api_caller_counted = g.auth_required or unknown_api_path()
    if not g.api_caller_counted:
        return
    if "Authorization" not in request.headers and COOKIE in request.cookies:
        _identify_session()
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        g.auth_error = MISSING_HEADER
        return
    key, minter_role = None, None
    if looks_like_token(token):
        token_hash = hash_token(current_app.extensions["aloft.settings"].secret_key, token)
        key, minter_role = db.session.execute(
            select(ApiKey, Membership.role)
            .outerjoin(Membership, and_(Membership.org_id == ApiKey.org_id, Membership.user_id == ApiKey.user_id))
            .where(ApiKey.token_hash == token_hash)
        ).one_or_none() or (None, None)
    if key is None or key.revoked_at is not None:
        g.auth_error = INVALID_TOKEN
    elif key.expires_at is not None and key.expires_at <= utcnow():
        g.auth_error = EXPIRED_TOKEN
    elif (rights := key_rights(key, minter_role)) is None:
        g.auth_error = INVALID_TOKEN  # its minter left the organization: the key is as good as revoked
    else:
        g.api_key, g.rights, g.org_id = key, rights, key.org_id


def _identify_session() -> None:
    """A browser's request: its session counts only with the session's CSRF token."""
    web_session = current_session()
    if web_session is None:
        g.auth_error = MISSING_HEADER
        return
    try:
        validate_csrf(request.headers.get("X-CSRFToken") or request.headers.get("X-CSRF-Token"))
    except ValidationError:
        g.auth_error = MISSING_CSRF
        return
    membership = active_membership()
    if membership is None:
        g.auth_error = NO_ORGANIZATION
        return
    g.session_user, g.rights, g.org_id = web_session.user, role_rights(membership.role), membership.org_id


def enforce() -> ResponseReturnValue | None:
    if not g.auth_required:
        return None
    if g.auth_error is not None:
        response = error_response(401, g.auth_error)
        response.headers["WWW-Authenticate"] = 'Bearer realm="aloft"'
        return response
    if g.rights is None:
        return None
    blueprint = endpoint_blueprint()
    scope = blueprint.required_scope(request.method) if blueprint else None
    if scope is not None and not g.rights.has_scope(scope):
        return error_response(403, f"Missing required scope: {scope}")
    action = blueprint.required_action(request.method) if blueprint else None
    if action is not None and not g.rights.may(action):
        return error_response(403, f"Your role ({g.rights.role}) may not {action}; ask an admin")
    if g.api_key is not None:
        _touch(g.api_key)
    return None


def _touch(key: ApiKey) -> None:
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        db.session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
        db.session.commit()


def current_key() -> ApiKey | None:
    """The calling key; None when a signed-in browser calls. Only valid inside a view that needs a caller."""
    return g.api_key


def current_user_id() -> str | None:
    """The person acting: the calling key's minter (None for the operator's keys) or the session's person."""
    if g.api_key is not None:
        return g.api_key.user_id
    user: User | None = g.get("session_user")
    return user.id if user is not None else None


def current_rights() -> Rights:
    """What the caller may do in this request; only valid inside a view that needs a caller."""
    return g.rights


def caller_has_scope(scope: str) -> bool:
    """Whether the caller may use ``scope`` (False outside a request made with a key)."""
    rights: Rights | None = g.get("rights")
    return rights is not None and rights.has_scope(scope)


def current_org_id() -> str:
    """The caller's organization (the key's, or the session's): every query a view makes is scoped to it."""
    return g.org_id
