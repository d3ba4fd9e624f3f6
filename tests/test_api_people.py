"""Members, invitations, the organization and the profile over the API: admins manage, the rest may look."""

import re
from datetime import timedelta

import pytest
from api_support import bearer
from people_support import PASSWORD, csrf_token, person, sign_in
from sqlalchemy import func, select

from aloft.extensions import db
from aloft.models import AuditEvent, Membership, WebSession
from aloft.testing import issue_key


@pytest.fixture
def admin(org):
    return person(org, "admin", "root@example.com", name="Root")


@pytest.fixture
def admin_token(app, org, admin):
    return issue_key(app, org, "admin key", user=admin)[1]


def membership_of(user):
    return db.session.scalar(select(Membership).where(Membership.user_id == user.id))


def test_members_are_listed_with_their_roles(client, org, other_org, admin, admin_token):
    person(org, "viewer", "vera@example.com", name="Vera")
    person(other_org, "admin", "elsewhere@example.com")
    listed = client.get("/api/v1/members", headers=bearer(admin_token))
    assert listed.status_code == 200
    members = listed.json["members"]
    assert [(m["email"], m["name"], m["role"]) for m in members] == [
        ("root@example.com", "Root", "admin"),
        ("vera@example.com", "Vera", "viewer"),
    ]
    assert set(members[0]) == {"id", "userId", "email", "name", "role", "joinedAt"}


def test_demoting_a_member_cuts_their_keys_scopes_at_once(app, client, org, admin_token):
    ada = person(org, "member")
    _key, token = issue_key(app, org, "ada's", user=ada)
    assert (
        client.post(
            "/api/v1/monitors", json={"name": "x", "type": "http", "url": "https://example.com"}, headers=bearer(token)
        ).status_code
        == 201
    )
    changed = client.patch(
        f"/api/v1/members/{membership_of(ada).id}", json={"role": "viewer"}, headers=bearer(admin_token)
    )
    assert changed.status_code == 200 and changed.json["member"]["role"] == "viewer"
    refused = client.post(
        "/api/v1/monitors", json={"name": "y", "type": "http", "url": "https://example.com"}, headers=bearer(token)
    )
    assert refused.status_code == 403 and refused.json == {"error": "Missing required scope: monitors:write"}
    assert client.get("/api/v1/monitors", headers=bearer(token)).status_code == 200


def test_removing_a_member_ends_their_sessions_and_their_keys(app, client, org, admin_token):
    ada = person(org, "member")
    _key, token = issue_key(app, org, "ada's", user=ada)
    browser = app.test_client()
    sign_in(browser)
    assert db.session.scalar(select(func.count()).select_from(WebSession)) == 1
    removed = client.delete(f"/api/v1/members/{membership_of(ada).id}", headers=bearer(admin_token))
    assert removed.status_code == 200 and removed.json == {"ok": True}
    assert db.session.scalar(select(func.count()).select_from(WebSession)) == 0
    assert client.get("/api/v1/monitors", headers=bearer(token)).json == {"error": "Invalid API token"}
    events = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action == "member.removed")).all()
    assert events == ["member.removed"]


def test_the_last_admin_can_be_neither_demoted_nor_removed(client, org, admin, admin_token):
    mine = membership_of(admin).id
    for response in (
        client.patch(f"/api/v1/members/{mine}", json={"role": "member"}, headers=bearer(admin_token)),
        client.delete(f"/api/v1/members/{mine}", headers=bearer(admin_token)),
    ):
        assert response.status_code == 409
        assert response.json == {"error": "An organization needs an admin: make someone else admin first"}
    second = person(org, "admin", "second@example.com")
    assert (
        client.patch(f"/api/v1/members/{mine}", json={"role": "member"}, headers=bearer(admin_token)).status_code == 200
    )
    assert membership_of(second).role == "admin"


def test_members_of_another_organization_are_not_found(client, org, other_org, admin_token):
    stranger = person(other_org, "member", "stranger@example.com")
    for response in (
        client.patch(
            f"/api/v1/members/{membership_of(stranger).id}", json={"role": "viewer"}, headers=bearer(admin_token)
        ),
        client.delete(f"/api/v1/members/{membership_of(stranger).id}", headers=bearer(admin_token)),
    ):
        assert response.status_code == 404 and response.json == {"error": "Member not found"}
    assert membership_of(stranger).role == "member"


def test_a_member_may_look_but_not_change(app, client, org, admin):
    ada = person(org, "member")
    token = issue_key(app, org, "ada's", user=ada)[1]
    assert client.get("/api/v1/members", headers=bearer(token)).status_code == 200
    refused = client.patch(f"/api/v1/members/{membership_of(admin).id}", json={"role": "viewer"}, headers=bearer(token))
    assert refused.status_code == 403 and refused.json == {"error": "Missing required scope: team:write"}


def test_an_invitation_is_shown_once_and_joins_the_invited_person(app, client, org, admin_token):
    created = client.post(
        "/api/v1/invites", json={"email": "New@Example.com", "role": "viewer"}, headers=bearer(admin_token)
    )
    assert created.status_code == 201, created.json
    invite = created.json["invite"]
    assert invite["email"] == "new@example.com" and invite["role"] == "viewer" and invite["emailed"] is False
    assert invite["invitedBy"] == "root@example.com"
    assert re.fullmatch(r"http://localhost:8000/invite/[\w-]{40,}", invite["url"])
    listed = client.get("/api/v1/invites", headers=bearer(admin_token)).json["invites"]
    assert [i["id"] for i in listed] == [invite["id"]] and "url" not in listed[0]

    browser = app.test_client()
    path = invite["url"].removeprefix("http://localhost:8000")
    page = browser.get(path)
    assert page.status_code == 200 and "Acme" in page.get_data(as_text=True)
    token = csrf_token(browser, path)
    weak = browser.post(
        path, data={"name": "Nia", "password": "password123", "confirm": "password123", "csrf_token": token}
    )
    assert weak.status_code == 400 and "common password" in weak.get_data(as_text=True).lower()
    joined = browser.post(path, data={"name": "Nia", "password": PASSWORD, "confirm": PASSWORD, "csrf_token": token})
    assert joined.status_code == 302
    members = client.get("/api/v1/members", headers=bearer(admin_token)).json["members"]
    assert ("new@example.com", "Nia", "viewer") in [(m["email"], m["name"], m["role"]) for m in members]
    assert client.get("/api/v1/invites", headers=bearer(admin_token)).json["invites"] == []
    assert browser.get(path).status_code == 404  # used once


def test_inviting_a_member_again_is_a_conflict_and_withdrawing_ends_the_link(app, client, org, admin_token):
    person(org, "member")
    again = client.post("/api/v1/invites", json={"email": "ada@example.com"}, headers=bearer(admin_token))
    assert again.status_code == 409
    invite = client.post("/api/v1/invites", json={"email": "bo@example.com"}, headers=bearer(admin_token)).json[
        "invite"
    ]
    assert client.delete(f"/api/v1/invites/{invite['id']}", headers=bearer(admin_token)).json == {"ok": True}
    assert app.test_client().get(invite["url"].removeprefix("http://localhost:8000")).status_code == 404
    assert client.delete(f"/api/v1/invites/{invite['id']}", headers=bearer(admin_token)).status_code == 404


def test_invitations_are_mailed_when_smtp_is_configured(app, client, org, admin_token, smtp_server):
    settings = app.extensions["aloft.settings"]
    environment = {**settings.environment, **smtp_server.environment}
    app.extensions["aloft.settings"] = type(settings)(**{**settings.__dict__, "environment": environment})
    created = client.post("/api/v1/invites", json={"email": "bo@example.com"}, headers=bearer(admin_token))
    assert created.json["invite"]["emailed"] is True
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "bo@example.com"
    assert created.json["invite"]["url"] in message.get_content()


def test_the_organization_is_read_by_anyone_and_changed_by_admins(app, client, org, admin_token):
    viewer_token = issue_key(app, org, "v", user=person(org, "viewer", "v@example.com"))[1]
    read = client.get("/api/v1/organization", headers=bearer(viewer_token))
    assert read.status_code == 200
    assert read.json["organization"] | {"id": None, "createdAt": None} == {
        "id": None,
        "slug": "acme",
        "name": "Acme",
        "monitorDefaults": {},
        "createdAt": None,
    }
    assert client.patch("/api/v1/organization", json={"name": "X"}, headers=bearer(viewer_token)).status_code == 403
    changed = client.patch(
        "/api/v1/organization",
        json={"name": "Acme Inc", "monitorDefaults": {"intervalSeconds": 60, "timeoutSeconds": 5}},
        headers=bearer(admin_token),
    )
    assert changed.status_code == 200, changed.json
    assert changed.json["organization"]["monitorDefaults"] == {"intervalSeconds": 60, "timeoutSeconds": 5}
    monitor = client.post(
        "/api/v1/monitors",
        json={"name": "x", "type": "http", "url": "https://example.com"},
        headers=bearer(admin_token),
    ).json["monitor"]
    assert (monitor["intervalSeconds"], monitor["timeoutSeconds"], monitor["confirmationCount"]) == (60, 5, 2)
    chosen = client.post(
        "/api/v1/monitors",
        json={"name": "y", "type": "http", "url": "https://example.com", "intervalSeconds": 600},
        headers=bearer(admin_token),
    ).json["monitor"]
    assert chosen["intervalSeconds"] == 600
    bad = client.patch(
        "/api/v1/organization",
        json={"monitorDefaults": {"intervalSeconds": 20, "timeoutSeconds": 30}},
        headers=bearer(admin_token),
    )
    assert bad.status_code == 400 and bad.json["issues"][0]["path"] == ["monitorDefaults", "timeoutSeconds"]
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "organization.changed")
        )
        == 1
    )


def test_the_profile_is_the_calling_person_and_an_operator_key_has_none(app, client, org, admin_token, token):
    profile = client.get("/api/v1/profile", headers=bearer(admin_token))
    assert profile.json["profile"]["email"] == "root@example.com" and profile.json["profile"]["hasPassword"] is True
    renamed = client.patch("/api/v1/profile", json={"name": "Rooty"}, headers=bearer(admin_token))
    assert renamed.json["profile"]["name"] == "Rooty"
    operator = client.get("/api/v1/profile", headers=bearer(token))
    assert operator.status_code == 404


def test_changing_the_password_needs_the_current_one_and_ends_other_sessions(app, client, org, admin):
    here, there = app.test_client(), app.test_client()
    sign_in(here, "root@example.com")
    sign_in(there, "root@example.com")
    token = csrf_token(here)
    headers = {"X-CSRFToken": token}
    wrong = here.post("/api/v1/profile/password", json={"currentPassword": "nope", "newPassword": "x"}, headers=headers)
    assert wrong.status_code == 403
    weak = here.post(
        "/api/v1/profile/password", json={"currentPassword": PASSWORD, "newPassword": "aloftaloft"}, headers=headers
    )
    assert weak.status_code == 400 and weak.json["issues"][0]["path"] == ["newPassword"]
    changed = here.post(
        "/api/v1/profile/password",
        json={"currentPassword": PASSWORD, "newPassword": "Quiet-lantern-Fjord-58"},
        headers=headers,
    )
    assert changed.status_code == 200, changed.json
    assert db.session.scalar(select(func.count()).select_from(WebSession)) == 1
    assert here.get("/api/v1/profile", headers=headers).status_code == 200
    assert there.get("/signin").status_code == 200  # signed out there
    assert sign_in(there, "root@example.com").status_code == 401
    assert sign_in(there, "root@example.com", "Quiet-lantern-Fjord-58").status_code == 302


def test_keys_show_who_minted_them_and_a_session_mints_as_its_person(app, client, org, admin, admin_token):
    issue_key(app, org, "operator's")
    browser = app.test_client()
    sign_in(browser, "root@example.com")
    headers = {"X-CSRFToken": csrf_token(browser)}
    minted = browser.post("/api/v1/keys", json={"name": "from the browser"}, headers=headers)
    assert minted.status_code == 201, minted.json
    keys = {
        key["name"]: key["mintedBy"] for key in client.get("/api/v1/keys", headers=bearer(admin_token)).json["keys"]
    }
    person_ = {"id": admin.id, "email": "root@example.com", "name": "Root"}
    assert keys == {"admin key": person_, "operator's": None, "from the browser": person_}


def test_a_person_revokes_their_own_keys_in_the_browser_but_not_others(app, org, admin):
    ada = person(org, "member")
    own, _ = issue_key(app, org, "ada's", user=ada)
    others, _ = issue_key(app, org, "root's", user=admin)
    browser = app.test_client()
    sign_in(browser)
    headers = {"X-CSRFToken": csrf_token(browser)}
    refused = browser.delete(f"/api/v1/keys/{others.id}", headers=headers)
    assert refused.status_code == 403 and refused.json == {"error": "Only admins can revoke API keys"}
    assert browser.delete(f"/api/v1/keys/{own.id}", headers=headers).json == {"ok": True}


def test_an_existing_person_joins_with_their_password(app, client, org, other_org, admin_token):
    nia = person(other_org, "admin", "nia@example.com")
    invite = client.post("/api/v1/invites", json={"email": "nia@example.com"}, headers=bearer(admin_token)).json
    path = invite["invite"]["url"].removeprefix("http://localhost:8000")
    browser = app.test_client()
    page = browser.get(path).get_data(as_text=True)
    assert "enter its password to join" in page
    token = csrf_token(browser, path)
    assert browser.post(path, data={"password": "wrong-password-x", "csrf_token": token}).status_code == 401
    assert browser.post(path, data={"password": PASSWORD, "csrf_token": token}).status_code == 302
    roles = dict(
        db.session.execute(select(Membership.org_id, Membership.role).where(Membership.user_id == nia.id)).all()
    )
    assert roles == {org.id: "member", other_org.id: "admin"}
    listed = browser.get("/api/v1/organization", headers={"X-CSRFToken": csrf_token(browser)})
    assert listed.json["organization"]["slug"] == "acme"  # the session works in the organization joined


def test_a_setup_link_expires_after_24_hours(app, org):
    from aloft.people.links import link_url, new_link

    ada = person(org)
    link, token = new_link("setup", user=ada)
    db.session.commit()
    assert link.expires_at - link.created_at <= timedelta(hours=24, seconds=1)
    path = link_url("setup", token).removeprefix("http://localhost:8000")
    browser = app.test_client()
    assert browser.get(path).status_code == 200
    link.expires_at = link.created_at
    db.session.commit()
    assert browser.get(path).status_code == 404
