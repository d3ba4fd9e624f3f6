"""Passwords: Argon2id hashes (argon2-cffi), and refusing weak ones with zxcvbn, saying why.

A password is never stored, logged or returned: only :func:`hash_password`'s result is kept.
"""

from __future__ import annotations

from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

MIN_LENGTH = 10
#: Passwords longer than this are refused: hashing megabytes on demand would be a denial of service.
MAX_LENGTH = 1000
#: zxcvbn's score (0-4) a password needs: 3 is "safely unguessable: moderate protection from offline attacks".
MIN_SCORE = 3

_hasher = PasswordHasher()
#: Verified against when no user matches, so that an unknown e-mail takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("no user has this password")


class WeakPassword(ValueError):
    """A password Aloft refuses; the message says why and how to do better."""


def check_strength(password: str, user_inputs: Iterable[str] = ()) -> None:
    """Raise :class:`WeakPassword` unless ``password`` is long and hard to guess.

    ``user_inputs`` (the person's e-mail, name, the organization's name) count as known words.
    """
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"Password must be at least {MIN_LENGTH} characters long.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"Password must be at most {MAX_LENGTH} characters long.")
    words = [word for text in user_inputs for word in [text, *text.replace("@", " ").replace(".", " ").split()] if word]
    result = zxcvbn(password[:100], user_inputs=words)
    if result["score"] >= MIN_SCORE:
        return
    feedback = result["feedback"]
    reasons = [feedback.get("warning") or "This password is too easy to guess.", *feedback.get("suggestions", [])]
    raise WeakPassword(" ".join(reason.strip() for reason in reasons if reason.strip()))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; spends the same time when there is no hash to match."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
