"""What each installed check and channel type is and takes, as plain JSON.

The one description behind ``GET /api/v1/check-types``, ``GET /api/v1/channel-types`` and
``aloft plugins --json``: a type's name, description, where it comes from, and its settings
(or config) as JSON Schema (draft 2020-12). The schemas are converted from the marshmallow
schemas that validate monitors and channels, by the same converter and rules that write
the OpenAPI document, so neither can say something the server does not do.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import marshmallow as ma
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from aloft.api.fields import document_computed_defaults, document_text_rules
from aloft.channels import ChannelType
from aloft.checks import CheckType
from aloft.plugins import Plugins

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: Marks a secret field in a channel type's config schema: stored encrypted, masked in every answer.
SECRET_KEYWORD = "x-secret"
_ROOT = "Root"
_COMPONENTS = "#/components/schemas/"


def check_type_entry(plugins: Plugins, check_type: type[CheckType]) -> dict[str, Any]:
    """One check type as ``GET /api/v1/check-types`` lists it."""
    distribution = plugins.check_type_distribution(check_type.name)
    return {
        "name": check_type.name,
        "description": check_type.description,
        "requiresUrl": check_type.requires_url,
        "passive": check_type.passive,
        "distribution": distribution.name,
        "version": distribution.version,
        # A type without a schema takes no settings: the API refuses any.
        "settingsSchema": type_json_schema(check_type.name, check_type.description, check_type.settings_schema, ()),
    }


def channel_type_entry(plugins: Plugins, channel_type: type[ChannelType], problem: str | None = None) -> dict[str, Any]:
    """One channel type as ``GET /api/v1/channel-types`` lists it; ``problem`` says why this
    server cannot send with it (None: channels of the type may be created)."""
    distribution = plugins.channel_type_distribution(channel_type.name)
    return {
        "name": channel_type.name,
        "description": channel_type.description,
        "distribution": distribution.name,
        "version": distribution.version,
        "secretFields": list(channel_type.secret_fields),
        "available": problem is None,
        "problem": problem,
        "configSchema": type_json_schema(
            channel_type.name,
            channel_type.description,
            channel_type.config_schema,
            channel_type.secret_fields,
            # load_config passes a config through unchecked when the type has no schema.
            takes_anything=True,
        ),
    }


def type_json_schema(
    name: str,
    description: str,
    schema: type[ma.Schema] | None,
    secret_fields: tuple[str, ...] | list[str],
    takes_anything: bool = False,
) -> dict[str, Any]:
    """``schema`` as a JSON Schema document titled ``name``; nested schemas go to ``$defs``,
    and each of ``secret_fields`` is marked ``"x-secret": true``."""
    if schema is None:
        body: dict[str, Any] = {"type": "object"}
        if not takes_anything:
            body.update(properties={}, additionalProperties=False)
    else:
        body = json_schema(schema)
    document = {"$schema": JSON_SCHEMA_DIALECT, "title": name, **body}
    if description:
        document["description"] = description
    for field in secret_fields:
        if field in document.get("properties", {}):
            document["properties"][field][SECRET_KEYWORD] = True
    return document


def json_schema(schema: type[ma.Schema]) -> dict[str, Any]:
    """``schema`` as JSON Schema (no ``$schema`` key); the caller's own copy."""
    return copy.deepcopy(_converted(schema))


@cache
def _converted(schema: type[ma.Schema]) -> dict[str, Any]:
    plugin = MarshmallowPlugin()
    spec = APISpec("aloft", "1", "3.1.0", plugins=[plugin])
    # As Api.init_app does for the OpenAPI document.
    plugin.converter.add_attribute_function(document_text_rules)
    plugin.converter.add_attribute_function(document_computed_defaults)
    spec.components.schema(_ROOT, schema=schema)
    components = _local_references(spec.to_dict()["components"]["schemas"])
    root = components.pop(_ROOT)
    if components:
        root["$defs"] = components
    return root


def _local_references(value: Any) -> Any:
    # OpenAPI points at #/components/schemas/X; a standalone JSON Schema at #/$defs/X.
    if isinstance(value, dict):
        return {
            key: (
                "#/$defs/" + item.removeprefix(_COMPONENTS)
                if key == "$ref" and isinstance(item, str) and item.startswith(_COMPONENTS)
                else _local_references(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_local_references(item) for item in value]
    return value
