"""Who is calling: the Bearer token names an API key, its organization and what it may do.

Two request hooks sandwich the rate limiter, so that a refused request is still counted
and still carries the ``X-RateLimit-*`` headers: :func:`identify` finds the key (or notes
why there is none), the limiter counts the request against that key or the client IP,
and :func:`enforce` answers 401 or 403 before the view runs. A request to an unknown path
under ``/api/v1`` is identified too (it counts against its key) but answers 404 or 405.

What a key may do (:mod:`aloft.access`) depends on its minter's role, read in the same query
as the key on every request: a demotion or removal applies to the very next request.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, g, request
from flask.typing import ResponseReturnValue
from sqlalchemy import and_, select, update

from aloft.access import Rights, key_rights
from aloft.api.blueprint import Blueprint
from aloft.api.errors import error_response
from aloft.extensions import db
from aloft.keys import hash_token, looks_like_token
from aloft.models import ApiKey, Membership, utcnow

MISSING_HEADER = "Missing or malformed Authorization header. Expected 'Bearer <token>'."
INVALID_TOKEN = "Invalid API token"
EXPIRED_TOKEN = "API token expired"
API_PREFIX = "/api/v1"
#: lastUsedAt is written at most this often per key, not on every request.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def endpoint_blueprint() -> Blueprint | None:
    """The Aloft blueprint serving this request, if it needs an API key."""
    blueprint = current_app.blueprints.get(request.blueprint or "")
    if isinstance(blueprint, Blueprint) and blueprint.scope_family is not None:
        return blueprint
    return None


def unknown_api_path() -> bool:
    """True for a request under ``/api/v1`` that no route serves (a 404 or a 405)."""
    return request.url_rule is None and (request.path + "/").startswith(f"{API_PREFIX}/")


def identify() -> None:
    g.api_key = None
    g.rights = None
    g.auth_error = None
    g.auth_required = endpoint_blueprint() is not None
    # An unknown path needs no key, but a key it carries is what the request counts against.
    g.api_caller_counted = g.auth_required or unknown_api_path()
    if not g.api_caller_counted:
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
        g.api_key, g.rights = key, rights
        g.org_id = key.org_id


def enforce() -> ResponseReturnValue | None:
    if not g.auth_required:
        return None
    if g.auth_error is not None:
        response = error_response(401, g.auth_error)
        response.headers["WWW-Authenticate"] = 'Bearer realm="aloft"'
        return response
    key: ApiKey | None = g.api_key
    if key is None:
        return None
    blueprint = endpoint_blueprint()
    scope = blueprint.required_scope(request.method) if blueprint else None
    if scope is not None and not g.rights.has_scope(scope):
        return error_response(403, f"Missing required scope: {scope}")
    _touch(key)
    return None


def _touch(key: ApiKey) -> None:
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        db.session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
        db.session.commit()


def current_key() -> ApiKey:
    """The calling key; only valid inside a view that needs one."""
    return g.api_key


def current_rights() -> Rights:
    """What the calling key may do in this request; only valid inside a view that needs a key."""
    return g.rights


def caller_has_scope(scope: str) -> bool:
    """Whether the caller may use ``scope`` (False outside a request made with a key)."""
    rights: Rights | None = g.get("rights")
    return rights is not None and rights.has_scope(scope)


def current_org_id() -> str:
    """The caller's organization (its key's, or the signed-in person's in the web UI): every query is scoped to it."""
    return g.org_id
