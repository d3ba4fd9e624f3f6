"""Form handling the pages share: every form posts a CSRF token, checked before anything is read.

The app checks it on every browser request that changes something (aloft.app); a view checks it
again itself, so that a page's safety does not hang on a setting elsewhere.
"""

from __future__ import annotations

from flask import abort, request
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError


def check_csrf() -> None:
    """Refuse (400) a form without this session's CSRF token."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as error:
        abort(400, f"{error} Reload the page and try again.")
