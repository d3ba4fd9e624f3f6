"""Who is looking at a page: the signed-in person, the organization they work in and their role there.

The one place the web UI learns who its visitor is (:func:`signed_in`, from the people pages'
browser sessions); every view asks :func:`current_viewer`, and every query a view makes is
scoped to ``viewer.org_id``. What a role may do is :mod:`aloft.access`'s, asked through
:meth:`Viewer.has_scope` and :meth:`Viewer.may`. Only what a page uses is read: the
dashboard's poll reads the session and the membership, not the person or the organization.
"""

from __future__ import annotations

from flask import g, request
from flask_login import current_user

from aloft.access import role_rights
from aloft.models import Membership, User
from aloft.people import active_membership, memberships_of

_VIEWER = "aloft.web.viewer"


class Viewer:
    """A signed-in person, working in one of their organizations."""

    def __init__(self, membership: Membership) -> None:
        self._membership = membership
        self.org_id: str = membership.org_id
        self.role: str = membership.role
        self.user_id: str = membership.user_id

    @property
    def user(self) -> User:
        return current_user._get_current_object()  # type: ignore[attr-defined]

    @property
    def email(self) -> str:
        return self.user.email

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def org_name(self) -> str:
        return self._membership.organization.name

    def has_scope(self, scope: str) -> bool:
        """Whether their role allows what a key with ``scope`` may do (``monitors:write``...)."""
        return role_rights(self.role).has_scope(scope)

    def may(self, action: str) -> bool:
        return role_rights(self.role).may(action)

    def organizations(self) -> list[tuple[str, str]]:
        """Every organization they belong to, as (id, name), for the switcher."""
        return [(membership.org_id, membership.organization.name) for membership in memberships_of(self.user)]


def signed_in() -> Viewer | None:
    """The visitor of this request; None when nobody is signed in, or they belong to no organization."""
    membership = active_membership()
    return None if membership is None else Viewer(membership)


def current_viewer() -> Viewer | None:
    """The visitor of this request, found once; the API's services then scope their queries to its organization.

    Kept in the request's environ, not ``g``: ``g`` outlives a request where an app context is held open.
    """
    if _VIEWER not in request.environ:
        viewer = request.environ[_VIEWER] = signed_in()
        if viewer is not None:
            g.org_id = viewer.org_id
    return request.environ[_VIEWER]
