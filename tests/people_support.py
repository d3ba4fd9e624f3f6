"""Helpers the people tests share: people made the way Aloft makes them, and a browser that signs in."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from aloft.extensions import db
from aloft.models import Membership, Organization, User
from aloft.people.passwords import hash_password

PASSWORD = "plum-vortex-Harbour-91"


def person(org: Organization | None, role: str = "member", email: str = "ada@example.com", **fields: str) -> User:
    """A person with ``PASSWORD`` (hashed once per test run), a member of ``org`` with ``role``."""
    user = User(email=email, name=fields.get("name", "Ada"), password_hash=_hash(fields.get("password", PASSWORD)))
    db.session.add(user)
    if org is not None:
        db.session.add(Membership(org_id=org.id, user=user, role=role))
    db.session.commit()
    return user


_hashes: dict[str, str] = {}


def _hash(password: str) -> str:
    if password not in _hashes:
        _hashes[password] = hash_password(password)
    return _hashes[password]


def csrf_token(client: FlaskClient, path: str = "/reset") -> str:
    """The CSRF token a page gives this browser (every page has it in a meta tag)."""
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert match, page
    return match.group(1)


def sign_in(client: FlaskClient, email: str = "ada@example.com", password: str = PASSWORD, **environ: str):
    token = csrf_token(client)
    return client.post(
        "/signin",
        data={"email": email, "password": password, "csrf_token": token},
        environ_base=environ,
    )


def session_cookie(client: FlaskClient) -> str | None:
    cookie = client.get_cookie("aloft_session")
    return cookie.value if cookie is not None else None
