"""Form handling the pages share: every form posts a CSRF token, checked before anything is read.

The app checks it on every browser request that changes something (aloft.app); a view checks it
again itself, so that a page's safety does not hang on a setting elsewhere.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, request
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError


def check_csrf() -> None:
    """Refuse (400) a form without this session's CSRF token."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as error:
        abort(400, f"{error} Reload the page and try again.")


def local_path(target: str | None) -> str | None:
    """``target`` if it is a path of this server, else None: a form's ``next`` never redirects elsewhere.

    Browsers read a backslash as a slash and drop tabs and newlines, so ``/\\evil.example`` and
    ``/<tab>/evil.example`` would leave the site as ``//evil.example`` does.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if any(char == "\\" or ord(char) < 0x20 or char == "\x7f" for char in target) or urlsplit(target).netloc:
        return None
    return target
