"""People: accounts, browser sessions, organizations they work in, invitations and the audit trail.

What the web UI uses:

- ``flask_login.current_user``: the signed-in :class:`aloft.models.User` (or anonymous);
  ``flask_login.login_required`` sends anonymous visitors to the sign-in page.
- :func:`active_membership`: the signed-in person's :class:`Membership` in the organization
  they work in (``.organization``, ``.org_id``, ``.role``), or None.
- :func:`memberships_of` / :func:`switch_organization`: the organizations to switch between.
- :func:`membership_required` / :func:`role_may`: view decorators (403 without the role's right).
- :func:`session_state_version`: the signed-in browser's organization and its state version, in one read.
- :func:`rights_of_membership`: the :class:`aloft.access.Rights` (scopes and actions) of a role.
"""

from aloft.people.guards import membership_required, rights_of_membership, role_may
from aloft.people.sessions import (
    active_membership,
    current_session,
    memberships_of,
    session_state_version,
    switch_organization,
)

__all__ = [
    "active_membership",
    "current_session",
    "membership_required",
    "memberships_of",
    "rights_of_membership",
    "role_may",
    "session_state_version",
    "switch_organization",
]
