"""Paging lists with ``limit`` and an opaque ``cursor``: keyset pagination on (time, id).

A cursor is the position after the last row of a page, so a page is one index range scan
however deep into the list it is, and rows added meanwhile neither repeat nor go missing.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import marshmallow as ma
from sqlalchemy import Select, and_, or_

from aloft.extensions import db

MAX_PAGE = 1000
INVALID_CURSOR = "Invalid cursor; pass nextCursor from the previous page."

Row = TypeVar("Row")


class PageArgs(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    limit = ma.fields.Integer(validate=ma.validate.Range(1, MAX_PAGE), metadata={"description": "Page size."})
    cursor = ma.fields.String(metadata={"description": "`nextCursor` of the previous page."})


def encode_cursor(when: datetime, row_id: str) -> str:
    raw = json.dumps([when.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (time, id) a cursor stands for; a ValidationError on ``cursor`` when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, row_id = json.loads(raw)
        parsed = datetime.fromisoformat(when)
        if parsed.tzinfo is None:
            raise ValueError("naive")
        return parsed, str(row_id)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise ma.ValidationError({"cursor": [INVALID_CURSOR]}) from None


def after(
    query: Select[Any], when_column: Any, id_column: Any, cursor: str, *, newest_first: bool = False
) -> Select[Any]:
    """``query`` restricted to rows after ``cursor`` in (time, id) order (or before it, newest first)."""
    when, row_id = decode_cursor(cursor)
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
