"""API keys: minting tokens, hashing them, and the scopes a key can carry.

A token is ``ur_`` plus 24 base62 characters from :mod:`secrets`. Only its first 12
characters (the display prefix) and an HMAC-SHA256 of it, keyed with the server secret,
are stored; a token is found again by hashing what the client sends.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Iterable
from datetime import datetime

from aloft.models import ApiKey, Organization, User

TOKEN_PREFIX = "ur_"
TOKEN_RANDOM_LENGTH = 24
DISPLAY_PREFIX_LENGTH = 12
BASE62 = string.digits + string.ascii_letters

#: Scopes a key can be granted. A key without scopes has all of them.
SCOPES = (
    "monitors:read",
    "monitors:write",
    "alerts:read",
    "alerts:write",
    "api-keys:read",
    "api-keys:write",
    "team:read",
    "team:write",
)
#: Named in the scope vocabulary Aloft follows but guarding nothing yet; refused on keys.
RESERVED_SCOPES = (
    "status-pages:read",
    "status-pages:write",
    "maintenance:read",
    "maintenance:write",
)


class InvalidScope(ValueError):
    """A scope that is not one of :data:`SCOPES`."""


def generate_token() -> str:
    return TOKEN_PREFIX + "".join(secrets.choice(BASE62) for _ in range(TOKEN_RANDOM_LENGTH))


def looks_like_token(value: str) -> bool:
    body = value[len(TOKEN_PREFIX) :]
    return value.startswith(TOKEN_PREFIX) and len(body) == TOKEN_RANDOM_LENGTH and all(c in BASE62 for c in body)


def hash_token(secret_key: str, token: str) -> str:
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def validate_scopes(scopes: Iterable[str] | None) -> list[str] | None:
    """Return the scopes deduplicated in canonical order, or None (all scopes)."""
    if scopes is None:
        return None
    wanted = set(scopes)
    for scope in sorted(wanted):
        if scope in RESERVED_SCOPES:
            raise InvalidScope(f"Scope {scope!r} is reserved and not available yet. Valid scopes: {', '.join(SCOPES)}")
        if scope not in SCOPES:
            raise InvalidScope(f"Unknown scope {scope!r}. Valid scopes: {', '.join(SCOPES)}")
    return [scope for scope in SCOPES if scope in wanted]


def new_key(
    secret_key: str,
    organization: Organization,
    name: str,
    *,
    scopes: Iterable[str] | None = None,
    expires_at: datetime | None = None,
    user: User | None = None,
) -> tuple[ApiKey, str]:
    """Build (not yet add to a session) a key and return it with its raw token.

    A key minted without a ``user`` is the operator's (``aloft keys create``) and acts as an
    admin. The raw token exists only in the return value: show it once, never store it.
    """
    token = generate_token()
    key = ApiKey(
        organization=organization,
        user=user,
        minted_by_operator=user is None,
        name=name,
        prefix=token[:DISPLAY_PREFIX_LENGTH],
        token_hash=hash_token(secret_key, token),
        scopes=validate_scopes(scopes),
        expires_at=expires_at,
    )
    return key, token
