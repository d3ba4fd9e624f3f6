"""Marshmallow fields with the API's conventions: strict JSON types, ``Z`` timestamps, and
text rules stated as patterns, so that the OpenAPI document says exactly what is taken.

A pattern here is anchored at both ends and matched whole (as JSON Schema reads an anchored
``pattern``), and spells its character classes out, so that Python and the ECMA-262
expressions of OpenAPI tools read it alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from flask import Flask

from aloft.models import ID_PATTERN
from aloft.times import isoformat_z

#: White space to Python (``str.isspace``) or to ECMA-262 (``\s``), spelt out.
WHITESPACE = r"\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
#: Text without NUL: what every string in the API is (see :mod:`aloft.api.input_rules`).
NO_NUL_PATTERN = r"^[^\u0000]*$"
#: Text without NUL that has a character other than white space.
NOT_BLANK_PATTERN = rf"^[^\u0000]*[^{WHITESPACE}\u0000][^\u0000]*$"
#: A URL as text: no white space and no control characters (a URL carries them percent-encoded).
URL_TEXT_PATTERN = rf"^[^\u0000-\u0020\u007f-\u009f{WHITESPACE}]*$"
BLANK = re.compile(rf"[{WHITESPACE}]*")


class Pattern(ma.validate.Regexp):
    """The whole value matches ``regex`` (``Regexp`` only asks that its start does)."""

    def __call__(self, value: str) -> str:
        if self.regex.fullmatch(value) is None:
            raise ma.ValidationError(self._format_error(value))
        return value


class NotBlank(ma.validate.Validator):
    """Some character other than white space. Documented by :data:`NOT_BLANK_PATTERN`, which
    also says what the edge enforces for all text (no NUL); tested to agree with this check."""

    regex = re.compile(NOT_BLANK_PATTERN)
    error = "Must not be blank."

    def __call__(self, value: str) -> str:
        if BLANK.fullmatch(value) is not None:
            raise ma.ValidationError(self.error)
        return value


class Name(ma.fields.String):
    """A name people read: 1-200 characters, not only white space."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=[ma.validate.Length(min=1, max=200), NotBlank()], **kwargs)


class Url(ma.fields.String):
    """A URL (or ``host:port``): 1-2048 characters without white space or control characters."""

    def __init__(self, **kwargs: Any) -> None:
        validate = [
            ma.validate.Length(min=1, max=2048),
            Pattern(URL_TEXT_PATTERN, error="Must not contain spaces or control characters; percent-encode them."),
        ]
        super().__init__(validate=validate, **kwargs)


class Id(ma.fields.String):
    """The id of an object, as the API gives it: a UUID in lower-case hex."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            validate=Pattern(ID_PATTERN, error="Not an id (ids are UUIDs, as the API gives them)."),
            metadata={"format": "uuid", **kwargs.pop("metadata", {})},
            **kwargs,
        )


class TypeName(ma.fields.String):
    """The name of a type this server offers (a check type, a channel type).

    ``offered(app)`` names them: the OpenAPI document lists them as the field's ``enum``,
    and the schema that uses the field refuses any other with a message saying why.
    """

    def __init__(self, offered: Callable[[Flask], Iterable[str]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.offered = offered


class Timestamp(ma.fields.DateTime):
    """ISO 8601 in UTC with milliseconds and ``Z``; input without an offset means UTC."""

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return isoformat_z(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
        except OverflowError:  # e.g. 9999-12-31T23:00:00-05:00 is after the last datetime
            raise ma.ValidationError("Out of range: the time must fall between years 1 and 9999 in UTC.") from None


class StrictInteger(ma.fields.Integer):
    """A JSON number that is a whole number: no strings, booleans or fractions (``2.0`` arrives
    as ``2``: :mod:`aloft.api.input_rules` reads it so)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBoolean(ma.fields.Boolean):
    """JSON ``true`` or ``false`` only."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class OkSchema(ma.Schema):
    ok = ma.fields.Boolean(required=True, metadata={"example": True})


def document_text_rules(converter: Any, field: ma.fields.Field, ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """An apispec attribute function: a string with no other pattern, enum or format, and
    the keys of an object, get :data:`NO_NUL_PATTERN`, the rule :mod:`aloft.api.input_rules`
    holds all text to."""
    if isinstance(field, ma.fields.String) and not {"pattern", "enum", "format"} & ret.keys():
        return {"pattern": NO_NUL_PATTERN}
    if isinstance(field, ma.fields.Dict):
        return {"propertyNames": field.metadata.get("propertyNames", {"pattern": NO_NUL_PATTERN})}
    return {}


def document_computed_defaults(converter: Any, field: ma.fields.Field, ret: dict[str, Any], **kwargs: Any) -> dict:
    """An apispec attribute function: a default computed by a function (``load_default=list``, so that
    no two loads share one list) is documented by its value, as a plain default is."""
    if "default" not in ret and callable(field.load_default):
        return {"default": field._serialize(field.load_default(), None, None)}
    return {}
