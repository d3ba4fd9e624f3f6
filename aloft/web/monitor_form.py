"""Placeholder."""

from __future__ import annotations

from flask import abort

from aloft.web.access import signed_in_page
from aloft.web.blueprint import bp


@bp.get("/monitors/new")
@signed_in_page
def new_monitor() -> str:
    abort(501)


@bp.get("/monitors/<monitor_id>/edit")
@signed_in_page
def edit_monitor(monitor_id: str) -> str:
    abort(501)
