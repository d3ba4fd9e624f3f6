"""Passwords, sign-in limits and password resets: nothing tells whether an e-mail has an account."""

import re
from datetime import timedelta

import pytest
from people_support import PASSWORD, csrf_token, person, session_cookie, sign_in
from sqlalchemy import func, select

from aloft.extensions import db
from aloft.models import AuditEvent, OneTimeLink, WebSession
from aloft.people.passwords import WeakPassword, check_strength, verify_password
from aloft.people.signin_limits import ATTEMPTS_PER_MINUTE, FREE_FAILURES


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1!", "at least 10 characters"),
        ("password123", "common password"),
        ("qwertyuiopasdf", "similar to a commonly used password"),
        ("aloftaloft", "Repeats like"),
        ("ada@example.comada", "too easy to guess"),
    ],
)
def test_weak_passwords_are_refused_saying_why(password, reason):
    with pytest.raises(WeakPassword) as refused:
        check_strength(password, ["ada@example.com", "Ada Lovelace"])
    assert reason.lower() in str(refused.value).lower(), str(refused.value)


def test_a_strong_password_passes_and_is_stored_only_as_an_argon2id_hash(org):
    check_strength(PASSWORD, ["ada@example.com"])
    ada = person(org)
    assert ada.password_hash.startswith("$argon2id$") and PASSWORD not in ada.password_hash
    assert verify_password(ada.password_hash, PASSWORD) and not verify_password(ada.password_hash, PASSWORD + "x")
    assert not verify_password(None, PASSWORD)


def answer_text(response, email):
    """The page without the e-mail the form echoes back and the CSRF token (signed with the time)."""
    text = response.get_data(as_text=True).replace(email, "EMAIL")
    return re.sub(r'(content|value)="[\w.-]{40,}"', r'\1="TOKEN"', text)


def test_an_unknown_email_and_a_known_one_are_refused_alike_even_when_throttled(client, org):
    person(org)
    for n in range(FREE_FAILURES):
        known = sign_in(client, "ada@example.com", "wrong-password-here")
        unknown = sign_in(client, "nobody@example.com", "wrong-password-here")
        assert known.status_code == unknown.status_code == 401, n
        assert answer_text(known, "ada@example.com") == answer_text(unknown, "nobody@example.com")
    known = sign_in(client, "ada@example.com", PASSWORD)  # the right password, too late
    unknown = sign_in(client, "nobody@example.com", PASSWORD)
    assert known.status_code == unknown.status_code == 429
    assert "Too many failed sign-ins for this e-mail. Try again in 15 seconds." in answer_text(known, "ada@example.com")
    assert answer_text(known, "ada@example.com") == answer_text(unknown, "nobody@example.com")
    assert session_cookie(client) is None


def test_a_successful_sign_in_clears_the_accounts_failures(client, org):
    person(org)
    for _ in range(FREE_FAILURES - 1):
        sign_in(client, password="wrong-password-here")
    assert sign_in(client).status_code == 302
    for _ in range(FREE_FAILURES - 1):
        assert sign_in(client, password="wrong-password-here").status_code == 401


def test_one_address_gets_20_attempts_a_minute(app, org):
    person(org)
    browser = app.test_client()
    answers = [
        sign_in(browser, f"guess{n}@example.com", REMOTE_ADDR="10.0.0.7").status_code
        for n in range(ATTEMPTS_PER_MINUTE + 2)
    ]
    assert answers == [401] * ATTEMPTS_PER_MINUTE + [429, 429]
    assert sign_in(browser, REMOTE_ADDR="10.0.0.8").status_code == 302


def test_without_smtp_the_reset_page_says_to_use_the_command_line(client):
    page = client.get("/reset").get_data(as_text=True)
    assert "aloft users set-password" in page and "<form" not in page.split("<main")[1]


@pytest.fixture
def mailing(app, smtp_server):
    settings = app.extensions["aloft.settings"]
    environment = {**settings.environment, **smtp_server.environment}
    app.extensions["aloft.settings"] = type(settings)(**{**settings.__dict__, "environment": environment})
    return smtp_server


def request_reset(client, email):
    return client.post("/reset", data={"email": email, "csrf_token": csrf_token(client, "/reset")})


def test_a_reset_link_is_mailed_works_once_and_ends_every_session(app, org, mailing):
    ada = person(org)
    signed_in = app.test_client()
    sign_in(signed_in)
    client = app.test_client()
    for email in ("ada@example.com", "nobody@example.com"):
        answer = request_reset(client, email)
        assert answer.status_code == 200 and "a link to reset its password is on its way" in answer.get_data(True)
    (message,) = mailing.wait_for(1)
    assert message["To"] == "ada@example.com"
    (path,) = re.findall(r"http://localhost:8000(/reset/[\w-]+)", message.get_content())
    token = csrf_token(client, path)
    new = "Velvet-harbor-Quince-73"
    assert client.post(path, data={"password": new, "confirm": new, "csrf_token": token}).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(WebSession)) == 1  # only the one just signed in
    assert signed_in.get("/signin").status_code == 200
    assert client.get("/signin").status_code == 302
    assert client.get(path).status_code == 404
    assert sign_in(client, password=new).status_code == 302
    assert (
        db.session.scalar(select(AuditEvent.actor_user_id).where(AuditEvent.action == "user.password_reset")) == ada.id
    )
    assert new not in str(db.session.scalars(select(AuditEvent.details)).all())


def test_a_reset_link_expires_after_an_hour(app, org, mailing):
    person(org)
    client = app.test_client()
    request_reset(client, "ada@example.com")
    (message,) = mailing.wait_for(1)
    (path,) = re.findall(r"http://localhost:8000(/reset/[\w-]+)", message.get_content())
    link = db.session.scalar(select(OneTimeLink))
    assert timedelta(minutes=59) < link.expires_at - link.created_at <= timedelta(hours=1, seconds=1)
    link.expires_at = link.created_at
    db.session.commit()
    assert client.get(path).status_code == 404


def test_asking_for_reset_links_counts_against_the_addresss_attempts(app, org, mailing):
    person(org)
    client = app.test_client()
    answers = [request_reset(client, f"x{n}@example.com").status_code for n in range(ATTEMPTS_PER_MINUTE + 1)]
    assert answers == [200] * ATTEMPTS_PER_MINUTE + [429]
    assert mailing.messages() == []
