"""``/api/v1/profile``: the calling person (a key's minter, or the signed-in person): name and password.

Any key or session of a person may read and rename its person; a key of the operator's has no
person behind it (404). Changing the password needs the current one, and ends every other
session of the person.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView

from aloft.api.auth import current_key, current_user_id
from aloft.api.blueprint import Blueprint
from aloft.api.errors import ApiError, error_response
from aloft.api.fields import Name, OkSchema, Timestamp
from aloft.extensions import db
from aloft.models import User
from aloft.people.accounts import set_password
from aloft.people.passwords import MAX_LENGTH, WeakPassword, verify_password
from aloft.people.sessions import current_session

blp = Blueprint(
    "profile",
    __name__,
    url_prefix="/api/v1/profile",
    scope_family="",
    description="The calling person's own account. Any key or signed-in browser of theirs.",
)

NO_PERSON = "This key was made by the operator (aloft keys create): there is no person behind it"
WRONG_PASSWORD = "currentPassword is not your password"


class ProfileSchema(ma.Schema):
    id = ma.fields.String(required=True)
    email = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    created_at = Timestamp(data_key="createdAt", required=True)
    has_password = ma.fields.Method(
        "dump_has_password", data_key="hasPassword", required=True, metadata={"type": "boolean"}
    )

    def dump_has_password(self, user: User) -> bool:
        return user.password_hash is not None


class ProfileEnvelope(ma.Schema):
    profile = ma.fields.Nested(ProfileSchema, required=True)


class ProfilePatchSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    name = Name(required=True)


class PasswordChangeSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    current_password = ma.fields.String(
        data_key="currentPassword", required=True, validate=ma.validate.Length(max=MAX_LENGTH)
    )
    new_password = ma.fields.String(
        data_key="newPassword",
        required=True,
        validate=ma.validate.Length(max=MAX_LENGTH),
        metadata={
            "description": "At least 10 characters and hard to guess (zxcvbn); a weak one is refused, saying why."
        },
    )


def calling_person() -> User:
    user_id = current_user_id()
    user = db.session.get(User, user_id) if user_id else None
    if user is None:
        raise ApiError(404, NO_PERSON)
    return user


@blp.route("")
class Profile(MethodView):
    @blp.response(200, ProfileEnvelope)
    @blp.alt_response(404, response="NOT_FOUND", description="An operator's key: no person behind it.")
    def get(self) -> dict[str, Any]:
        """The calling person."""
        return {"profile": calling_person()}

    @blp.arguments(ProfilePatchSchema)
    @blp.response(200, ProfileEnvelope)
    @blp.alt_response(404, response="NOT_FOUND", description="An operator's key: no person behind it.")
    def patch(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change the calling person's name."""
        user = calling_person()
        user.name = changes["name"]
        db.session.commit()
        return {"profile": user}


@blp.route("/password")
class ProfilePassword(MethodView):
    @blp.arguments(PasswordChangeSchema)
    @blp.response(200, OkSchema)
    @blp.alt_response(403, response="FORBIDDEN", description="`currentPassword` is wrong.")
    @blp.alt_response(404, response="NOT_FOUND", description="An operator's key: no person behind it.")
    def post(self, data: dict[str, Any]) -> Any:
        """Change the calling person's password: every other session of theirs ends."""
        user = calling_person()
        if not verify_password(user.password_hash, data["current_password"]):
            raise ApiError(403, WRONG_PASSWORD)
        keep = current_session() if current_key() is None else None
        try:
            set_password(user, data["new_password"], keep=keep, action="user.password_changed")
        except WeakPassword as weak:
            db.session.rollback()
            return error_response(400, "Validation failed", issues=[{"path": ["newPassword"], "message": str(weak)}])
        db.session.commit()
        return {"ok": True}
