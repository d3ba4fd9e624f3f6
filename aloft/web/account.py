"""The account controls of the top bar: switching organization and signing out."""

from __future__ import annotations

from typing import Any

from flask import redirect, url_for

from aloft.web.access import signed_in_page
from aloft.web.blueprint import bp
from aloft.web.forms import check_csrf


@bp.post("/organization/switch")
@signed_in_page
def switch_organization() -> Any:
    check_csrf()
    return redirect(url_for("web.dashboard"))


@bp.post("/sign-out")
@signed_in_page
def sign_out() -> Any:
    check_csrf()
    return redirect(url_for("web.dashboard"))
