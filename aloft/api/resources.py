"""The shape every organization-scoped resource shares: find one, list a page of them.

- :func:`find_in_org` answers 404 with the resource's own message for anything that is not an
  id of this organization's: another organization's id is as unknown as a made-up one.
- :func:`list_envelope` runs a keyset page (:mod:`aloft.api.paging`) and wraps it the guide's
  way: ``{"<plural>": [...]}``, with ``nextCursor`` when a page was asked for.

Who may call is the blueprint's (scope family and role actions, :mod:`aloft.api.blueprint`);
a PATCH merges onto the stored object and validates the result with the same schema a
create uses. A new resource is then only what is particular to it.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select

from aloft.api.auth import current_org_id
from aloft.api.errors import ApiError
from aloft.api.paging import fetch_page
from aloft.extensions import db
from aloft.models import is_id

Model = TypeVar("Model")


def find_in_org(model: type[Model], object_id: str, not_found: str, *conditions: Any) -> Model:
    """The caller's organization's ``model`` with ``object_id`` (and ``conditions``), else 404 ``not_found``."""
    if not is_id(object_id):
        raise ApiError(404, not_found)
    found = db.session.scalar(
        select(model).where(model.id == object_id, model.org_id == current_org_id(), *conditions)  # type: ignore[attr-defined]
    )
    if found is None:
        raise ApiError(404, not_found)
    return found


def list_envelope(
    name: str,
    query: Select[Any],
    when_column: Any,
    id_column: Any,
    args: dict[str, Any],
    *,
    newest_first: bool = False,
    default_limit: int | None = None,
) -> dict[str, Any]:
    """``{name: rows}`` of one page of ``query``, with ``next_cursor`` when paging was asked for."""
    rows, next_cursor = fetch_page(
        query, when_column, id_column, args, newest_first=newest_first, default_limit=default_limit
    )
    if "limit" in args or default_limit is not None:
        return {name: rows, "next_cursor": next_cursor}
    return {name: rows}
