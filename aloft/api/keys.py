"""``/api/v1/keys``: list, create and revoke the organization's API keys.

A key cannot escalate: it grants only scopes it may use itself, mints no key that outlives
it, and revokes (as an admin, by its minter's current role) only keys whose scopes it has.
A signed-in person (a browser session) mints keys as themselves, with at most their role's
scopes, and may revoke their own keys; an admin anyone's. Each key shows its minter.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from aloft.access import REVOKE_KEYS
from aloft.api.auth import current_key, current_org_id, current_rights, current_user_id
from aloft.api.blueprint import Blueprint
from aloft.api.errors import ApiError
from aloft.api.fields import Name, OkSchema, Timestamp
from aloft.extensions import db
from aloft.keys import SCOPES, new_key
from aloft.models import ApiKey, Organization, User, is_id, utcnow
from aloft.people import audit
from aloft.times import isoformat_z

blp = Blueprint(
    "keys",
    __name__,
    url_prefix="/api/v1/keys",
    scope_family="api-keys",
    description="API keys of the caller's organization. Needs `api-keys:read` / `api-keys:write`.",
)

KEY_NOT_FOUND = "API key not found"


class MinterSchema(ma.Schema):
    id = ma.fields.String(required=True)
    email = ma.fields.String(required=True)
    name = ma.fields.String(required=True)


class KeySchema(ma.Schema):
    id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    prefix = ma.fields.String(required=True, metadata={"description": "The token's first 12 characters."})
    scopes = ma.fields.Method("dump_scopes", required=True, metadata={"type": "array", "items": {"type": "string"}})
    created_at = Timestamp(data_key="createdAt", required=True)
    expires_at = Timestamp(data_key="expiresAt", allow_none=True, required=True)
    last_used_at = Timestamp(data_key="lastUsedAt", allow_none=True, required=True)
    minted_by = ma.fields.Nested(
        MinterSchema,
        attribute="user",
        data_key="mintedBy",
        allow_none=True,
        required=True,
        metadata={
            "description": "The person who minted the key (it acts with at most their role's scopes); "
            "null for a key the operator made with `aloft keys create`, or whose minter was deleted."
        },
    )

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
        metadata={"description": "Omitted: the scopes the calling key may use."},
    )
    expires_at = Timestamp(
        data_key="expiresAt",
        allow_none=True,
        metadata={
            "description": "Omitted: the calling key's expiry (never, for a key that does not expire). "
            "Never later than the calling key's."
        },
    )

    @ma.validates("expires_at")
    def validate_expiry(self, value: Any, **kwargs: Any) -> None:
        if value is not None and value <= utcnow():
            raise ma.ValidationError("Must be in the future.")


@blp.route("")
class Keys(MethodView):
    @blp.response(200, KeyListSchema)
    def get(self) -> dict[str, Any]:
        """List the organization's active keys (never their tokens)."""
        return {"keys": active_keys()}

    @blp.arguments(KeyInputSchema)
    @blp.response(201, CreatedKeyEnvelope)
    @blp.alt_response(
        403, response="FORBIDDEN", description="A scope the calling key does not have, or an expiry after its own."
    )
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a key; its token is in this response only.

        A key can grant only scopes it may use itself, and cannot mint a key that outlives it.
        The new key has the same minter as the calling key.
        """
        caller, rights = current_key(), current_rights()
        caller_scopes = caller.scopes if caller is not None else None
        caller_expiry = caller.expires_at if caller is not None else None
        if "scopes" in data:
            scopes = data["scopes"]
        else:
            scopes = None if caller_scopes is None and not rights.cannot_grant(None) else sorted(rights.grantable)
        missing = rights.lacks(scopes)
        if missing:
            raise ApiError(403, f"Cannot grant scopes the calling key does not have: {', '.join(missing)}")
        if beyond_role := rights.cannot_grant(scopes):
            raise ApiError(403, f"A {rights.role} can only mint keys with read scopes; not: {', '.join(beyond_role)}")
        expires_at = data.get("expires_at", caller_expiry)
        if (
            caller is not None
            and caller.expires_at is not None
            and (expires_at is None or expires_at > caller.expires_at)
        ):
            raise ApiError(
                403,
                "A key cannot mint a key that outlives it: expiresAt must not be later than "
                f"{isoformat_z(caller.expires_at)}, when the calling key expires",
            )
        organization = db.session.get(Organization, current_org_id())
        minter_id = current_user_id()
        key, token = new_key(
            current_app.extensions["aloft.settings"].secret_key,
            organization,
            data["name"],
            scopes=scopes,
            expires_at=expires_at,
            user=db.session.get(User, minter_id) if minter_id else None,
        )
        db.session.add(key)
        db.session.flush()
        audit.record("key.created", organization.id, {"keyId": key.id, "name": key.name, "prefix": key.prefix})
        db.session.commit()
        key.token = token  # type: ignore[attr-defined]  # for this response only; never stored
        return {"key": key}


def active_keys() -> list[ApiKey]:
    """The caller's organization's keys that are not revoked, oldest first, with their minters."""
    return list(
        db.session.scalars(
            select(ApiKey)
            .where(ApiKey.org_id == current_org_id(), ApiKey.revoked_at.is_(None))
            .options(selectinload(ApiKey.user))
            .order_by(ApiKey.created_at, ApiKey.id)
        )
    )


@blp.route("/<id:key_id>")
class KeyById(MethodView):
    @blp.response(200, OkSchema)
    @blp.alt_response(
        403,
        response="FORBIDDEN",
        description="The calling key's minter is not an admin, or the key has scopes the calling key does not.",
    )
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, key_id: str) -> dict[str, bool]:
        """Revoke a key. Its very next request is refused.

        Revoking another key needs an admin's key (by the minter's role now) holding every
        scope the revoked key has; a key may always revoke itself.
        """
        if not is_id(key_id):
            raise ApiError(404, KEY_NOT_FOUND)
        key = db.session.scalar(
            select(ApiKey).where(ApiKey.id == key_id, ApiKey.org_id == current_org_id(), ApiKey.revoked_at.is_(None))
        )
        if key is None:
            raise ApiError(404, KEY_NOT_FOUND)
        caller = current_key()
        if caller is None or key.id != caller.id:
            rights = current_rights()
            # A person in their browser may revoke their own keys (whatever they hold); a key only itself.
            own = caller is None and key.user_id is not None and key.user_id == current_user_id()
            if not (own or rights.may(REVOKE_KEYS)):
                raise ApiError(403, "Only admins can revoke API keys")
            missing = [] if own else rights.lacks(key.scopes)
            if missing:
                raise ApiError(
                    403, f"Cannot revoke a key with scopes the calling key does not have: {', '.join(missing)}"
                )
        key.revoked_at = utcnow()
        audit.record("key.revoked", key.org_id, {"keyId": key.id, "name": key.name, "prefix": key.prefix})
        db.session.commit()
        return {"ok": True}
