"""``/api/v1/keys``: list, create and revoke the organization's API keys."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from sqlalchemy import select

from aloft.api.auth import current_key, current_org_id
from aloft.api.blueprint import Blueprint
from aloft.api.errors import ApiError
from aloft.api.fields import Name, OkSchema, Timestamp
from aloft.extensions import db
from aloft.keys import SCOPES, new_key
from aloft.models import ApiKey, Membership, Organization, is_id, utcnow

blp = Blueprint(
    "keys",
    __name__,
    url_prefix="/api/v1/keys",
    scope_family="api-keys",
    description="API keys of the caller's organization. Needs `api-keys:read` / `api-keys:write`.",
)

KEY_NOT_FOUND = "API key not found"


class KeySchema(ma.Schema):
    id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    prefix = ma.fields.String(required=True, metadata={"description": "The token's first 12 characters."})
    scopes = ma.fields.Method("dump_scopes", required=True, metadata={"type": "array", "items": {"type": "string"}})
    created_at = Timestamp(data_key="createdAt", required=True)
    expires_at = Timestamp(data_key="expiresAt", allow_none=True, required=True)
    last_used_at = Timestamp(data_key="lastUsedAt", allow_none=True, required=True)

    def dump_scopes(self, key: ApiKey) -> list[str]:
        return list(SCOPES) if key.scopes is None else key.scopes


class CreatedKeySchema(KeySchema):
    token = ma.fields.String(required=True, metadata={"description": "The raw token. Shown in this response only."})


class KeyListSchema(ma.Schema):
    keys = ma.fields.List(ma.fields.Nested(KeySchema), required=True)


class CreatedKeyEnvelope(ma.Schema):
    key = ma.fields.Nested(CreatedKeySchema, required=True)


class KeyInputSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    name = Name(required=True)
    scopes = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(SCOPES)),
        metadata={"description": "Omitted: the calling key's own scopes."},
    )
    expires_at = Timestamp(data_key="expiresAt", allow_none=True, metadata={"description": "Omitted: never."})

    @ma.validates("expires_at")
    def validate_expiry(self, value: Any, **kwargs: Any) -> None:
        if value is not None and value <= utcnow():
            raise ma.ValidationError("Must be in the future.")


@blp.route("")
class Keys(MethodView):
    @blp.response(200, KeyListSchema)
    def get(self) -> dict[str, Any]:
        """List the organization's active keys (never their tokens)."""
        keys = db.session.scalars(
            select(ApiKey)
            .where(ApiKey.org_id == current_org_id(), ApiKey.revoked_at.is_(None))
            .order_by(ApiKey.created_at, ApiKey.id)
        ).all()
        return {"keys": keys}

    @blp.arguments(KeyInputSchema)
    @blp.response(201, CreatedKeyEnvelope)
    @blp.alt_response(403, response="FORBIDDEN", description="A scope the calling key does not have.")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a key; its token is in this response only.

        A key can grant only scopes it has itself.
        """
        caller = current_key()
        scopes = data.get("scopes", caller.scopes)
        if scopes is not None and caller.scopes is not None:
            missing = [scope for scope in SCOPES if scope in scopes and scope not in caller.scopes]
            if missing:
                raise ApiError(403, f"Cannot grant scopes the calling key does not have: {', '.join(missing)}")
        organization = db.session.get(Organization, caller.org_id)
        key, token = new_key(
            current_app.extensions["aloft.settings"].secret_key,
            organization,
            data["name"],
            scopes=scopes,
            expires_at=data.get("expires_at"),
            user=caller.user,
        )
        db.session.add(key)
        db.session.commit()
        key.token = token  # type: ignore[attr-defined]  # for this response only; never stored
        return {"key": key}


@blp.route("/<id:key_id>")
class KeyById(MethodView):
    @blp.response(200, OkSchema)
    @blp.alt_response(403, response="FORBIDDEN", description="The calling key's user is not an admin.")
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, key_id: str) -> dict[str, bool]:
        """Revoke a key (admins only). Its very next request is refused."""
        if not is_id(key_id):
            raise ApiError(404, KEY_NOT_FOUND)
        key = db.session.scalar(
            select(ApiKey).where(ApiKey.id == key_id, ApiKey.org_id == current_org_id(), ApiKey.revoked_at.is_(None))
        )
        if key is None:
            raise ApiError(404, KEY_NOT_FOUND)
        if not caller_is_admin(current_key()):
            raise ApiError(403, "Only admins can revoke API keys")
        key.revoked_at = utcnow()
        db.session.commit()
        return {"ok": True}


def caller_is_admin(key: ApiKey) -> bool:
    """Keys minted by the operator (no user) act as admins; others by their user's role."""
    if key.user_id is None:
        return True
    role = db.session.scalar(
        select(Membership.role).where(Membership.org_id == key.org_id, Membership.user_id == key.user_id)
    )
    return role == "admin"
