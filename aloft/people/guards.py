"""Decorators that keep a browser view to people with a membership, or with a role's right."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app
from flask_login import current_user

from aloft.access import Rights, role_rights
from aloft.models import Membership
from aloft.people.sessions import active_membership

View = TypeVar("View", bound=Callable[..., Any])


def rights_of_membership(membership: Membership) -> Rights:
    return role_rights(membership.role)


def membership_required(view: View) -> View:
    """Signed in (else the sign-in page) and working in an organization (else 403)."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        if active_membership() is None:
            abort(403)
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def role_may(action_or_scope: str) -> Callable[[View], View]:
    """Only for a role that may do ``action_or_scope`` (an action of :mod:`aloft.access` or a scope)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            membership = active_membership()
            if membership is None:
                abort(403)
            rights = role_rights(membership.role)
            if not (rights.may(action_or_scope) or rights.has_scope(action_or_scope)):
                abort(403)
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate
