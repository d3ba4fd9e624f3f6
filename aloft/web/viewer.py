"""Who is looking at a page: the signed-in person, the organization they work in and their role there.

The one place the web UI learns who its visitor is (:func:`signed_in`); every view asks
:func:`current_viewer`, and every query a view makes is scoped to ``viewer.org_id``. What a role
may do is :mod:`aloft.access`'s, asked through :meth:`Viewer.has_scope` and :meth:`Viewer.may`.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import g

from aloft.access import ROLE_ACTIONS, ROLE_SCOPES


@dataclass(frozen=True)
class Viewer:
    """A signed-in person, working in one of their organizations."""

    user_id: str
    email: str
    name: str
    org_id: str
    org_name: str
    role: str
    #: Every organization they belong to, as (id, name), for the switcher.
    organizations: tuple[tuple[str, str], ...] = ()

    def has_scope(self, scope: str) -> bool:
        """Whether their role allows what a key with ``scope`` may do (``monitors:write``...)."""
        return scope in ROLE_SCOPES.get(self.role, frozenset())

    def may(self, action: str) -> bool:
        return action in ROLE_ACTIONS.get(self.role, frozenset())


def signed_in() -> Viewer | None:
    """The visitor of this request, from their browser session; None when nobody is signed in."""
    return None


def load_viewer() -> None:
    """Find the visitor once per request; the API's services then scope their queries to the viewer's organization."""
    viewer = signed_in()
    g.viewer = viewer
    if viewer is not None:
        g.org_id = viewer.org_id


def current_viewer() -> Viewer | None:
    return g.get("viewer")
