"""The API page, as the guide tells it: create a key (its token shown exactly once), list the keys, revoke one.

The token of a new key is shown once (aloft.web.shown_once): a reload finds nothing.
Revoking is for admins only, checked here whatever the page showed.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from aloft.access import REVOKE_KEYS
from aloft.api.keys import active_keys
from aloft.extensions import db
from aloft.keys import SCOPES, new_key
from aloft.models import ApiKey, Organization, User, is_id, utcnow
from aloft.people import audit
from aloft.web.access import require_action, require_scope, signed_in_page, viewer
from aloft.web.blueprint import bp
from aloft.web.forms import check_csrf
from aloft.web.shown_once import show_once, take

#: Where the new token waits, sealed, for the one page that shows it.
NEW_TOKEN = "aloft.new_key_token"


def secret_key() -> str:
    return current_app.extensions["aloft.settings"].secret_key


@bp.get("/api")
@signed_in_page
def api_keys() -> Any:
    require_scope("api-keys:read")
    new_token, _ = take(NEW_TOKEN)
    person = viewer()
    response = current_app.make_response(
        render_template(
            "api_keys.html",
            keys=active_keys(),
            new_token=new_token,
            scopes=[scope for scope in SCOPES if person.has_scope(scope)],
            may_create=person.has_scope("api-keys:write"),
            may_revoke=person.may(REVOKE_KEYS),
            errors={},
            values={},
        )
    )
    response.headers["Cache-Control"] = "no-store"  # a page with a token is never kept
    return response


@bp.post("/api")
@signed_in_page
def create_key() -> Any:
    check_csrf()
    require_scope("api-keys:write")
    person = viewer()
    name = request.form.get("name", "").strip()
    scopes = [scope for scope in request.form.getlist("scopes") if scope]
    if "scopes_shown" not in request.form:  # no scope boxes were shown (a script's post): all the role's
        scopes = [scope for scope in SCOPES if person.has_scope(scope)]
    expires = request.form.get("expires", "").strip()
    errors: dict[str, str] = {}
    if not name or len(name) > 200:
        errors["name"] = "Give the key a name of 1 to 200 characters."
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown or not scopes:
        errors["scopes"] = "Choose at least one scope." if not scopes else f"Unknown scope: {', '.join(unknown)}."
    elif missing := [scope for scope in scopes if not person.has_scope(scope)]:
        errors["scopes"] = f"Your role cannot grant: {', '.join(missing)}."
    expires_at = None
    if expires:
        try:
            expires_at = datetime.combine(datetime.fromisoformat(expires).date(), time.max, tzinfo=UTC)
        except ValueError:
            errors["expires"] = "Give a date as YYYY-MM-DD."
        else:
            if expires_at <= utcnow():
                errors["expires"] = "Must be in the future."
    if errors:
        return render_template(
            "api_keys.html",
            keys=active_keys(),
            new_token=None,
            scopes=[scope for scope in SCOPES if person.has_scope(scope)],
            may_create=True,
            may_revoke=person.may(REVOKE_KEYS),
            errors=errors,
            values={"name": name, "scopes": scopes, "expires": expires},
        ), 400
    organization = db.session.get(Organization, person.org_id)
    key, token = new_key(
        secret_key(),
        organization,
        name,
        scopes=None if set(scopes) == set(SCOPES) else scopes,
        expires_at=expires_at,
        user=db.session.get(User, person.user_id),
    )
    db.session.add(key)
    db.session.flush()
    audit.record("key.created", organization.id, {"keyId": key.id, "name": key.name, "prefix": key.prefix})
    db.session.commit()
    show_once(NEW_TOKEN, token)
    return redirect(url_for("web.api_keys"))


@bp.post("/api-keys/<key_id>/revoke")
@signed_in_page
def revoke_key(key_id: str) -> Any:
    check_csrf()
    require_action(REVOKE_KEYS)
    key = None
    if is_id(key_id):
        key = db.session.scalar(
            select(ApiKey).where(ApiKey.id == key_id, ApiKey.org_id == viewer().org_id, ApiKey.revoked_at.is_(None))
        )
    if key is None:
        abort(404)
    key.revoked_at = utcnow()
    audit.record("key.revoked", key.org_id, {"keyId": key.id, "name": key.name, "prefix": key.prefix})
    db.session.commit()
    flash(f"Revoked {key.name} ({key.prefix}…): its next request is refused.", "info")
    return redirect(url_for("web.api_keys"))
