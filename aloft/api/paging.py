"""Paging lists with ``limit`` and a ``cursor``: keyset pagination on (time, id).

A cursor is the position after the last row of a page, so a page is one index range scan
however deep into the list it is, and rows added meanwhile neither repeat nor go missing.

It is written as the time in microseconds since 1970 in 14 hex digits (enough until the
year 4253), then the row's id (a UUID) in 32 hex digits, absent where the time alone is
the position. Every string of that form stands for a position a row could have, so the
pattern in the OpenAPI document is exactly what the server takes: nothing it documents is
refused, and nothing it takes overflows a date or puts text into an id column.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import marshmallow as ma
from sqlalchemy import Select, and_, or_

from aloft.extensions import db

MAX_PAGE = 1000
INVALID_CURSOR = "Invalid cursor; pass nextCursor from the previous page."
CURSOR_PATTERN = r"^[0-9a-f]{14}([0-9a-f]{32})?$"
TIME_DIGITS = 14
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)

Row = TypeVar("Row")


@dataclass(frozen=True)
class Position:
    """Where a page ends: a row's time and id (``""`` when the time alone says where)."""

    when: datetime
    row_id: str = ""


class Cursor(ma.fields.String):
    """A ``nextCursor`` handed back; loads as the :class:`Position` it stands for."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            metadata={"description": "`nextCursor` of the previous page.", "pattern": CURSOR_PATTERN}, **kwargs
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Position:
        text = super()._deserialize(value, attr, data, **kwargs)
        if re.fullmatch(CURSOR_PATTERN, text) is None:
            raise ma.ValidationError(INVALID_CURSOR)
        row_id = str(uuid.UUID(text[TIME_DIGITS:])) if len(text) > TIME_DIGITS else ""
        return Position(EPOCH + int(text[:TIME_DIGITS], 16) * MICROSECOND, row_id)


class PageArgs(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    limit = ma.fields.Integer(validate=ma.validate.Range(1, MAX_PAGE), metadata={"description": "Page size."})
    cursor = Cursor()


def encode_cursor(when: datetime, row_id: str = "") -> str:
    """The cursor of the position after a row at ``when`` with id ``row_id``."""
    digits = f"{(when - EPOCH) // MICROSECOND:0{TIME_DIGITS}x}"
    return digits + (uuid.UUID(row_id).hex if row_id else "")


def after(
    query: Select[Any], when_column: Any, id_column: Any, cursor: Position, *, newest_first: bool = False
) -> Select[Any]:
    """``query`` restricted to rows after ``cursor`` in (time, id) order (or before it, newest first)."""
    when, row_id = cursor.when, cursor.row_id
    if newest_first:
        return query.where(or_(when_column < when, and_(when_column == when, id_column < row_id)))
    return query.where(or_(when_column > when, and_(when_column == when, id_column > row_id)))


def page(
    rows: Sequence[Row], limit: int, position: Callable[[Row], tuple[datetime, str]]
) -> tuple[list[Row], str | None]:
    """The first ``limit`` of ``rows`` (fetched with ``limit + 1``) and the cursor of the next page, if any."""
    more = len(rows) > limit
    kept = list(rows[:limit])
    return kept, encode_cursor(*position(kept[-1])) if more else None


def fetch_page(
    query: Select[Any],
    when_column: Any,
    id_column: Any,
    args: dict[str, Any],
    *,
    newest_first: bool = False,
    default_limit: int | None = None,
) -> tuple[list[Any], str | None]:
    """Run ``query`` in (time, id) order from ``args["cursor"]``: a page of ``args["limit"]`` rows and the next cursor.

    With no limit given and no ``default_limit``, every row and no cursor. A query of one
    entity gives the entities; of several columns, rows whose first column is the entity paged.
    """
    order = (when_column.desc(), id_column.desc()) if newest_first else (when_column, id_column)
    query = query.order_by(*order)
    if "cursor" in args:
        query = after(query, when_column, id_column, args["cursor"], newest_first=newest_first)
    limit = args.get("limit", default_limit)
    single = len(query.column_descriptions) == 1
    if limit is not None:
        query = query.limit(limit + 1)
    result = db.session.execute(query)
    rows = result.scalars().all() if single else result.all()
    if limit is None:
        return list(rows), None

    def position(row: Any) -> tuple[datetime, str]:
        entity = row if single else row[0]
        return getattr(entity, when_column.key), getattr(entity, id_column.key)

    return page(rows, limit, position)
