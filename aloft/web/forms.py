"""Form handling the pages share: every form posts a CSRF token, checked before anything is read."""

from __future__ import annotations

from flask import abort, request
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms.validators import ValidationError

from aloft.web.blueprint import bp


@bp.app_context_processor
def csrf_field() -> dict[str, object]:
    return {"csrf_token": generate_csrf}


def check_csrf() -> None:
    """Refuse (400) a form without this session's CSRF token."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as error:
        abort(400, f"{error} Reload the page and try again.")
