"""Placeholder."""

from __future__ import annotations

from flask import abort

from aloft.web.access import signed_in_page
from aloft.web.blueprint import bp


@bp.get("/api")
@signed_in_page
def api_keys() -> str:
    abort(501)
