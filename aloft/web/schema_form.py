"""Form fields from a type's settings schema (JSON Schema, :mod:`aloft.type_catalog`), and form values back to JSON.

So a check type installed with pip gets its fields in the monitor form (and a channel type in
the channel form) without touching the UI: a boolean is a checkbox, an enum a select, a number
a number input, a list of plain values one comma-separated text field, an object of strings
(HTTP headers) a ``Name: value`` line each, and anything else JSON in a text area. What the
person typed goes to the API's schema as it is, so its messages are what they read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aloft.api.errors import issues_from_messages

#: Form widgets: what a property is entered with.
CHECKBOX, SELECT, NUMBER, TEXT, EMAIL, LIST, LINES, JSON_TEXT = (
    "checkbox",
    "select",
    "number",
    "text",
    "email",
    "list",
    "lines",
    "json",
)


@dataclass(frozen=True)
class SchemaField:
    """One property of a settings schema, as a form field."""

    key: str
    label: str
    widget: str
    required: bool
    description: str
    default: Any
    choices: tuple[str, ...] = ()
    secret: bool = False

    def text(self, value: Any) -> str:
        """The value as the field shows it."""
        if value is None:
            return ""
        if self.widget == LIST:
            return ", ".join(str(item) for item in value) if isinstance(value, list) else str(value)
        if self.widget == LINES:
            return "\n".join(f"{name}: {item}" for name, item in value.items()) if isinstance(value, dict) else ""
        if self.widget == JSON_TEXT:
            return json.dumps(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)


def label_of(key: str) -> str:
    """``expectedStatusCodes`` → ``Expected status codes``."""
    words = "".join(f" {char.lower()}" if char.isupper() else char for char in key).strip()
    return words[:1].upper() + words[1:]


def type_of(schema: dict[str, Any]) -> Any:
    """A property's JSON type; a nullable one (``["string", "null"]``) is entered as its other type, left empty
    for null."""
    kind = schema.get("type")
    if isinstance(kind, list):
        others = [name for name in kind if name != "null"]
        return others[0] if len(others) == 1 else kind
    return kind


def widget_of(schema: dict[str, Any]) -> str:
    kind = type_of(schema)
    if kind == "boolean":
        return CHECKBOX
    if "enum" in schema and kind == "string":
        return SELECT
    if kind in ("integer", "number"):
        return NUMBER
    if kind == "string":
        return EMAIL if schema.get("format") == "email" else TEXT
    if kind == "array" and plain_items(schema.get("items", {})):
        return LIST
    if kind == "object" and schema.get("additionalProperties", {}).get("type") == "string":
        return LINES
    return JSON_TEXT


def plain_items(items: dict[str, Any]) -> bool:
    kinds = [option.get("type") for option in items.get("oneOf", [items])]
    return bool(kinds) and all(kind in ("string", "integer", "number") for kind in kinds)


def fields_of(schema: dict[str, Any]) -> list[SchemaField]:
    """The form fields of a settings (or config) schema, in its order."""
    required = set(schema.get("required", ()))
    return [
        SchemaField(
            key=key,
            label=label_of(key),
            widget=widget_of(prop),
            required=key in required,
            description=prop.get("description", ""),
            default=prop.get("default"),
            choices=tuple(prop.get("enum", ())),
            secret=bool(prop.get("x-secret")),
        )
        for key, prop in schema.get("properties", {}).items()
    ]


def read_fields(schema: dict[str, Any], form: Any, prefix: str) -> dict[str, Any]:
    """The JSON object a form's fields named ``<prefix><key>`` stand for; empty fields are left out (defaults apply).

    A value that does not parse is passed on as typed, for the API's schema to say what is wrong with it.
    """
    data: dict[str, Any] = {}
    properties = schema.get("properties", {})
    for field in fields_of(schema):
        name = prefix + field.key
        if field.widget == CHECKBOX:
            data[field.key] = name in form
            continue
        raw = form.get(name, "").strip()
        if raw == "":
            continue
        data[field.key] = parse(properties[field.key], field.widget, raw)
    return data


def parse(prop: dict[str, Any], widget: str, raw: str) -> Any:
    if widget == NUMBER:
        try:
            return int(raw) if type_of(prop) == "integer" else float(raw)
        except ValueError:
            return raw
    if widget == LIST:
        items = prop.get("items", {})
        numbers = any(option.get("type") in ("integer", "number") for option in items.get("oneOf", [items]))
        values = [item.strip() for item in raw.split(",") if item.strip()]
        return [int(item) if numbers and item.isdigit() else item for item in values]
    if widget == LINES:
        pairs = [line.partition(":") for line in raw.splitlines() if line.strip()]
        return {name.strip(): value.strip() for name, _, value in pairs}
    if widget == JSON_TEXT:
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def errors_by_field(messages: Any, typed: str, kind: str) -> dict[str, list[str]]:
    """The API's validation messages keyed as the form names its fields: ``<typed>.<type>.<key>`` for the
    type's own object (``settings`` of a monitor, ``config`` of a channel), the field's name otherwise."""
    found: dict[str, list[str]] = {}
    for issue in issues_from_messages(messages):
        path = [str(part) for part in issue["path"]]
        key = f"{typed}.{kind}.{path[1]}" if path[:1] == [typed] and len(path) > 1 else ".".join(path[:1])
        found.setdefault(key, []).append(issue["message"])
    return found
