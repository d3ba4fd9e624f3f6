"""``/api/v1/check-types`` and ``/api/v1/channel-types``: the types this server offers and what they take.

Any valid key may read them, whatever its scopes: they describe the server, not an
organization. Each type's settings (or config) come as JSON Schema, converted from the
marshmallow schema that validates them (:mod:`aloft.type_catalog`); the web UI builds its
forms from them, and a client may validate before sending.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app
from flask.views import MethodView

from aloft.api.blueprint import Blueprint
from aloft.notify.channel_types import settings_problem
from aloft.type_catalog import channel_type_entry, check_type_entry

blp = Blueprint(
    "types",
    __name__,
    url_prefix="/api/v1",
    any_key=True,
    description="The check and channel types this server offers, with their settings as JSON Schema. "
    "Any valid key may read them.",
)

JSON_SCHEMA_DESCRIPTION = (
    "JSON Schema (draft 2020-12) of the object: `properties` with their `type`, `default`, `description`, "
    "`enum`, `minimum`/`maximum`, `minLength`/`maxLength`, `pattern`; `required`; `additionalProperties: false` "
    "(unknown fields are refused)."
)


class CheckTypeSchema(ma.Schema):
    name = ma.fields.String(required=True, metadata={"description": "What a monitor's `type` says, e.g. `http`."})
    description = ma.fields.String(required=True)
    requiresUrl = ma.fields.Boolean(required=True, metadata={"description": "Whether a monitor needs a `url`."})
    passive = ma.fields.Boolean(
        required=True, metadata={"description": "Decides from pings it receives (heartbeat) instead of reaching out."}
    )
    distribution = ma.fields.String(required=True, metadata={"description": "The installed distribution providing it."})
    version = ma.fields.String(required=True, allow_none=True, metadata={"description": "The distribution's version."})
    settingsSchema = ma.fields.Dict(
        required=True, metadata={"description": f"A monitor's `settings`: {JSON_SCHEMA_DESCRIPTION}"}
    )


class CheckTypeListSchema(ma.Schema):
    checkTypes = ma.fields.List(ma.fields.Nested(CheckTypeSchema), required=True)


class ChannelTypeSchema(ma.Schema):
    name = ma.fields.String(required=True, metadata={"description": "What a channel's `type` says, e.g. `slack`."})
    description = ma.fields.String(required=True)
    distribution = ma.fields.String(required=True, metadata={"description": "The installed distribution providing it."})
    version = ma.fields.String(required=True, allow_none=True, metadata={"description": "The distribution's version."})
    secretFields = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={"description": "Config fields stored encrypted and masked in every answer (`x-secret`)."},
    )
    available = ma.fields.Boolean(
        required=True, metadata={"description": "Whether channels of this type may be created on this server."}
    )
    problem = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Why not (the server settings it lacks, naming the variables); null when available."},
    )
    configSchema = ma.fields.Dict(
        required=True,
        metadata={
            "description": f'A channel\'s `config`: {JSON_SCHEMA_DESCRIPTION} Secret fields carry `"x-secret": true`.'
        },
    )


class ChannelTypeListSchema(ma.Schema):
    channelTypes = ma.fields.List(ma.fields.Nested(ChannelTypeSchema), required=True)


@blp.route("/check-types")
class CheckTypes(MethodView):
    @blp.response(200, CheckTypeListSchema)
    def get(self) -> dict[str, Any]:
        """The installed check types, by name, with their settings as JSON Schema."""
        plugins = current_app.extensions["aloft.plugins"]
        return {"checkTypes": [check_type_entry(plugins, kind) for _, kind in sorted(plugins.check_types.items())]}


@blp.route("/channel-types")
class ChannelTypes(MethodView):
    @blp.response(200, ChannelTypeListSchema)
    def get(self) -> dict[str, Any]:
        """The channel types this server has enabled (`ALOFT_CHANNELS`), by name, with their config as JSON Schema."""
        plugins = current_app.extensions["aloft.plugins"]
        settings = current_app.extensions["aloft.settings"]
        return {
            "channelTypes": [
                channel_type_entry(plugins, kind, settings_problem(kind, settings))
                for _, kind in sorted(current_app.extensions["aloft.channel_types"].items())
            ]
        }
