"""Placeholder."""

from __future__ import annotations

from flask import abort

from aloft.web.access import signed_in_page
from aloft.web.blueprint import bp


@bp.get("/members")
@signed_in_page
def members() -> str:
    abort(501)
