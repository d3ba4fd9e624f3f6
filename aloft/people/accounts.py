"""People's accounts: creating them, signing in, and setting passwords.

Sign-in answers the same for an unknown e-mail and a wrong password, in the same time (a
dummy hash is verified when nobody has the e-mail), and both count towards the limits of
:mod:`aloft.people.signin_limits`.
"""

from __future__ import annotations

from sqlalchemy import func, select

from aloft.extensions import db
from aloft.models import Membership, Organization, User, WebSession
from aloft.people import audit, signin_limits
from aloft.people.passwords import check_strength, hash_password, needs_rehash, verify_password
from aloft.people.sessions import end_sessions_of

WRONG_CREDENTIALS = "Incorrect e-mail or password."
TOO_MANY_ATTEMPTS = "Too many attempts from your address. Wait a minute and try again."


class SignInRefused(Exception):
    """Sign-in did not succeed; the message is what to show (it never says whether the e-mail exists)."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == normalize_email(email)))


def create_user(email: str, name: str = "") -> User:
    user = User(email=normalize_email(email), name=name)
    db.session.add(user)
    return user


def organizations_of(user_id: str) -> list[str]:
    return list(db.session.scalars(select(Membership.org_id).where(Membership.user_id == user_id)))


def authenticate(email: str, password: str, ip: str | None) -> User:
    """The user with this e-mail and password, or :class:`SignInRefused` saying why not."""
    if not signin_limits.take_attempt(ip):
        raise SignInRefused(TOO_MANY_ATTEMPTS)
    wait = signin_limits.wait_seconds(email)
    if wait:
        raise SignInRefused(f"Too many failed sign-ins for this e-mail. Try again in {wait} seconds.")
    user = find_user(email)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        signin_limits.record_failure(email)
        for org_id in organizations_of(user.id) if user else [None]:
            actor = user.email if user else normalize_email(email)[:320]
            audit.record("user.sign_in_failed", org_id, actor=actor, actor_user_id=user.id if user else None)
        db.session.commit()
        raise SignInRefused(WRONG_CREDENTIALS)
    signin_limits.clear_failures(email)
    if needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    for org_id in organizations_of(user.id):
        audit.record("user.signed_in", org_id, actor=user.email, actor_user_id=user.id)
    return user


def set_password(
    user: User,
    password: str,
    *,
    keep: WebSession | None = None,
    action: str | None = None,
    known_words: list[str] | None = None,
) -> None:
    """Give ``user`` a new password (refusing a weak one with :class:`WeakPassword`) and end
    every session of theirs but ``keep``. ``action`` is recorded in each of their organizations.
    The person's e-mail, name and organizations' names (and ``known_words``) make a weak password."""
    organizations = db.session.scalars(
        select(Organization.name).join(Membership).where(Membership.user_id == user.id)
    ).all()
    check_strength(password, [user.email, user.name or "", *organizations, *(known_words or [])])
    user.password_hash = hash_password(password)
    end_sessions_of(user.id, keep=keep)
    if action is not None:
        for org_id in organizations_of(user.id):
            audit.record(action, org_id, actor=user.email, actor_user_id=user.id)
