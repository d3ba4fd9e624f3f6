"""Marshmallow fields with the API's conventions: strict JSON types, ``Z`` timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import marshmallow as ma

from aloft.times import isoformat_z


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
    """A JSON number that is a whole number: no strings, booleans or fractions."""

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
