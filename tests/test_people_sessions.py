"""Signing in and out of the browser: server-side sessions, their cookie, CSRF, and what a session may reach."""

from datetime import timedelta

import pytest
from api_support import bearer
from people_support import PASSWORD, csrf_token, person, session_cookie, sign_in
from sqlalchemy import func, select

from aloft.extensions import db
from aloft.models import AuditEvent, Membership, WebSession
from aloft.people.accounts import set_password
from aloft.testing import issue_key


def age(**by: timedelta) -> None:
    """Make every session older: each named time moves back by its amount."""
    for web_session in db.session.scalars(select(WebSession)):
        for name, delta in by.items():
            setattr(web_session, name, getattr(web_session, name) - delta)
    db.session.commit()


@pytest.fixture
def ada(org):
    return person(org, "member")


def test_the_home_page_is_the_sign_in_page_for_a_visitor(client):
    page = client.get("/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert '<label for="email">E-mail</label>' in text and '<label for="password">Password</label>' in text


def test_signing_in_sets_an_httponly_lax_cookie_naming_a_server_side_session(client, ada):
    response = sign_in(client)
    assert response.status_code == 302
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("aloft_session="))
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header
    assert db.session.scalar(select(func.count()).select_from(WebSession).where(WebSession.user_id == ada.id)) == 1
    assert client.get("/signin").status_code == 302  # signed in: the sign-in page sends you on


def test_the_cookie_is_secure_when_the_base_url_is_https(app, client, ada):
    app.extensions["aloft.settings"] = type(app.extensions["aloft.settings"])(
        **{**app.extensions["aloft.settings"].__dict__, "base_url": "https://aloft.example.com"}
    )
    header = next(h for h in sign_in(client).headers.getlist("Set-Cookie") if h.startswith("aloft_session="))
    assert "Secure" in header


def test_signing_in_rotates_the_session(client, ada):
    sign_in(client)
    first = session_cookie(client)
    sign_in(client)
    second = session_cookie(client)
    assert first and second and first != second
    assert db.session.scalar(select(func.count()).select_from(WebSession)) == 1


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(client, ada):
    wrong = sign_in(client, password="not the password at all")
    unknown = sign_in(client, email="nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert "Incorrect e-mail or password." in wrong.get_data(as_text=True)
    assert "Incorrect e-mail or password." in unknown.get_data(as_text=True)
    assert session_cookie(client) is None


def test_signing_out_ends_the_session_on_the_server(client, ada):
    sign_in(client)
    cookie = session_cookie(client)
    token = csrf_token(client)
    assert client.post("/signout", data={"csrf_token": token}).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(WebSession)) == 0
    client.set_cookie("aloft_session", cookie)  # replaying the old cookie gets nowhere
    assert client.get("/signin").status_code == 200


def test_a_form_post_without_the_csrf_token_is_refused(client, ada):
    sign_in(client)
    assert client.post("/signout").status_code == 400
    assert db.session.scalar(select(func.count()).select_from(WebSession)) == 1
    refused = client.post("/signin", data={"email": "ada@example.com", "password": PASSWORD})
    assert refused.status_code == 400


def test_a_password_change_ends_every_session_of_that_person(app, ada):
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop)
    sign_in(phone)
    assert db.session.scalar(select(func.count()).select_from(WebSession)) == 2
    set_password(ada, "another-Strong-passphrase-77")
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(WebSession)) == 0
    for browser in (laptop, phone):
        assert browser.get("/signin").status_code == 200  # signed out


def test_a_session_ends_after_the_idle_time(client, ada):
    sign_in(client)
    age(last_seen_at=timedelta(hours=12, minutes=1))
    assert client.get("/signin").status_code == 200
    assert db.session.scalar(select(func.count()).select_from(WebSession)) == 0


def test_a_session_ends_after_the_absolute_lifetime_however_used(client, ada):
    sign_in(client)
    age(created_at=timedelta(days=30, minutes=1), last_seen_at=timedelta(minutes=1))
    assert client.get("/signin").status_code == 200


def test_a_session_reaches_the_api_only_with_the_csrf_token(client, org, ada):
    sign_in(client)
    without = client.get("/api/v1/monitors")
    assert without.status_code == 401
    assert without.json == {
        "error": "Missing or invalid CSRF token: a browser session must send it in the X-CSRFToken header."
    }
    posted = client.post("/api/v1/monitors", json={"name": "x", "type": "http", "url": "https://example.com"})
    assert posted.status_code == 401
    token = csrf_token(client)
    assert client.get("/api/v1/monitors", headers={"X-CSRFToken": token}).status_code == 200
    created = client.post(
        "/api/v1/monitors",
        json={"name": "x", "type": "http", "url": "https://example.com"},
        headers={"X-CSRFToken": token},
    )
    assert created.status_code == 201, created.json


def test_a_viewer_session_reads_but_does_not_write(client, org):
    person(org, "viewer", "vera@example.com")
    sign_in(client, "vera@example.com")
    token = csrf_token(client)
    assert client.get("/api/v1/monitors", headers={"X-CSRFToken": token}).status_code == 200
    refused = client.post(
        "/api/v1/monitors",
        json={"name": "x", "type": "http", "url": "https://example.com"},
        headers={"X-CSRFToken": token},
    )
    assert refused.status_code == 403 and refused.json == {"error": "Missing required scope: monitors:write"}


def test_api_keys_work_as_before_alongside_a_session(app, client, org, ada):
    sign_in(client)
    _key, token = issue_key(app, org)
    assert client.get("/api/v1/monitors", headers=bearer(token)).status_code == 200
    assert (
        client.post(
            "/api/v1/monitors", json={"name": "x", "type": "http", "url": "https://example.com"}, headers=bearer(token)
        ).status_code
        == 201
    )


def test_switching_organizations_scopes_the_session(client, org, other_org, ada):
    db.session.add(Membership(org_id=other_org.id, user_id=ada.id, role="viewer"))
    db.session.commit()
    sign_in(client)
    token = csrf_token(client)
    client.post(
        "/api/v1/monitors",
        json={"name": "in acme", "type": "http", "url": "https://example.com"},
        headers={"X-CSRFToken": token},
    )
    assert client.post("/organization", data={"org_id": other_org.id, "csrf_token": token}).status_code == 302
    listed = client.get("/api/v1/monitors", headers={"X-CSRFToken": token})
    assert listed.status_code == 200 and listed.json["monitors"] == []
    assert client.post("/organization", data={"org_id": "not-mine", "csrf_token": token}).status_code == 404


def test_sign_in_and_out_are_in_the_audit_trail_without_secrets(client, org, ada):
    sign_in(client, password="wrong password here")
    sign_in(client)
    client.post("/signout", data={"csrf_token": csrf_token(client)})
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.created_at)).all()
    assert [event.action for event in events] == ["user.sign_in_failed", "user.signed_in", "user.signed_out"]
    assert all(event.org_id == org.id and event.actor == "ada@example.com" for event in events)
    assert all(event.ip == "127.0.0.1" for event in events)
    assert "wrong password" not in repr([event.details for event in events])


@pytest.mark.parametrize(
    ("target", "lands"),
    [
        ("/monitors/x", "/monitors/x"),
        ("/incidents?status=open", "/incidents?status=open"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        # A browser reads a backslash as a slash and drops tabs and newlines: these are //evil.example/ too.
        ("/\\evil.example/", "/"),
        ("/\t/evil.example/", "/"),
        ("/\n/evil.example/", "/"),
    ],
)
def test_sign_in_returns_to_a_page_of_this_server_only(client, ada, target, lands):
    token = csrf_token(client, "/signin")
    response = client.post(
        "/signin", data={"email": "ada@example.com", "password": PASSWORD, "next": target, "csrf_token": token}
    )
    assert response.status_code == 302 and response.headers["Location"] == lands
