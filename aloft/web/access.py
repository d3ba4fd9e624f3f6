"""What a page needs from its visitor: to be signed in, and for actions, a role that allows them."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, redirect, request, url_for

from aloft.web.viewer import Viewer, current_viewer


def signed_in_page(view: Callable[..., Any]) -> Callable[..., Any]:
    """The page is for signed-in people; anyone else is sent to sign in, and back here afterwards."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_viewer() is None:
            if request.method != "GET":
                abort(401)
            return redirect(url_for("people.sign_in", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def viewer() -> Viewer:
    """The visitor of a :func:`signed_in_page`."""
    found = current_viewer()
    assert found is not None, "only called from signed-in pages"
    return found


def require_scope(scope: str) -> None:
    """Refuse (403) an action the visitor's role does not allow, whatever the page showed them."""
    if not viewer().has_scope(scope):
        abort(403)


def require_action(action: str) -> None:
    if not viewer().may(action):
        abort(403)
