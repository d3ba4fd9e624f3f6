"""What a role may do in an organization, and so what a key or a browser session may do.

Aloft's access rules, in one place:

- ``admin``: everything, including members, invitations, others' keys, organization settings
  and the audit log.
- ``member``: monitors, channels, incidents (and, as they come, maintenance and status pages),
  and their own keys; may see the members.
- ``viewer``: reads only; may mint keys with read scopes only.

A key acts with its own scopes cut down to what its minter's role allows *now*. The role is
looked up on every request, so demoting or removing a person takes effect at their keys'
very next request. A key minted by the operator (``aloft keys create``: no person behind it)
acts as an admin; a key whose minter is no longer a member of its organization has no
rights at all (it answers 401 "Invalid API token", like a revoked key). A browser session
acts with its person's role in the organization they work in.

New roles and actions are added here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from aloft.keys import SCOPES
from aloft.models import ApiKey

READ_SCOPES = frozenset(scope for scope in SCOPES if scope.endswith(":read"))

#: The scopes a role's keys (and sessions) may use; a key's own scopes beyond these are dormant.
#: A viewer writes nothing but keys: read-only keys of their own (see ROLE_GRANTS).
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "admin": frozenset(SCOPES),
    "member": frozenset(SCOPES) - {"team:write"},
    "viewer": READ_SCOPES | {"api-keys:write"},
}
#: The scopes a role may put on a key it mints.
ROLE_GRANTS: dict[str, frozenset[str]] = {
    "admin": ROLE_SCOPES["admin"],
    "member": ROLE_SCOPES["member"],
    "viewer": READ_SCOPES,
}

#: Revoking a key minted by someone else (a key may always revoke itself, a person their own keys).
REVOKE_KEYS = "revoke keys"
#: Changing members' roles, removing members, inviting people and withdrawing invitations.
MANAGE_MEMBERS = "manage members"
#: Changing the organization's name and the defaults new monitors get.
MANAGE_ORGANIZATION = "manage organization"
#: Reading the audit log.
READ_AUDIT_LOG = "read audit log"
#: What a role may do whatever its keys' scopes.
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({REVOKE_KEYS, MANAGE_MEMBERS, MANAGE_ORGANIZATION, READ_AUDIT_LOG}),
    "member": frozenset(),
    "viewer": frozenset(),
}

#: The role keys minted by the operator act with.
OPERATOR_ROLE = "admin"


@dataclass(frozen=True)
class Rights:
    """What a caller may do in this request: its role's actions and the scopes both it and its role have."""

    role: str
    scopes: frozenset[str]

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def may(self, action: str) -> bool:
        return action in ROLE_ACTIONS[self.role]

    @property
    def grantable(self) -> frozenset[str]:
        """The scopes a key minted with these rights may hold."""
        return self.scopes & ROLE_GRANTS[self.role]

    def lacks(self, scopes: list[str] | None) -> list[str]:
        """Of ``scopes`` (None: all of them), those these rights do not have, in canonical order."""
        wanted = SCOPES if scopes is None else scopes
        return [scope for scope in SCOPES if scope in wanted and scope not in self.scopes]

    def cannot_grant(self, scopes: list[str] | None) -> list[str]:
        """Of ``scopes`` (None: all of them), those a key minted with these rights may not hold."""
        wanted = SCOPES if scopes is None else scopes
        return [scope for scope in SCOPES if scope in wanted and scope not in self.grantable]


def role_rights(role: str) -> Rights:
    """What a person with ``role`` may do through a browser session: all their role allows."""
    return Rights(role, ROLE_SCOPES[role])


def key_rights(key: ApiKey, minter_role: str | None) -> Rights | None:
    """What ``key`` may do, given the role its minter holds now in the key's organization.

    ``minter_role`` is None when the minter is no longer a member (or was deleted): the key
    may do nothing, and None is returned. A key the operator minted acts as an admin.
    """
    role = OPERATOR_ROLE if key.minted_by_operator else minter_role
    if role is None:
        return None
    own = frozenset(SCOPES) if key.scopes is None else frozenset(key.scopes)
    return Rights(role, own & ROLE_SCOPES[role])
