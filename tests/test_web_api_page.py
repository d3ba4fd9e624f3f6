"""The API page as the guide tells it: a key's token shown exactly once, the keys listed, revoking for admins only."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from people_support import person
from people_support import sign_in as people_sign_in
from sqlalchemy import select
from web_support import csrf

from aloft.extensions import db
from aloft.models import ApiKey, Organization

TOKEN_SHOWN = re.compile(r'<code id="new-token">(ur_[0-9A-Za-z]{24})</code>')


@pytest.fixture
def admin(client: FlaskClient, org: Organization) -> FlaskClient:
    person(org, "admin")
    assert people_sign_in(client).status_code == 302
    return client


def create(client: FlaskClient, name: str, **fields: str | list[str]) -> str:
    answer = client.post("/api", data={"csrf_token": csrf(client, "/api"), "name": name, **fields})
    assert answer.status_code == 302 and answer.headers["Location"] == "/api"
    page = client.get("/api")
    match = TOKEN_SHOWN.search(page.get_data(as_text=True))
    assert match is not None
    assert page.headers["Cache-Control"] == "no-store"
    return match.group(1)


def key_named(name: str) -> str:
    return db.session.scalar(select(ApiKey.id).where(ApiKey.name == name))


def test_the_top_navigation_names_the_api_page_api(admin: FlaskClient) -> None:
    assert '<a href="/api">API</a>' in admin.get("/").get_data(as_text=True)


def test_a_new_keys_token_is_shown_once_and_works_until_revoked(admin: FlaskClient) -> None:
    token = create(admin, "ci-deploy-checks", scopes=["monitors:read"], scopes_shown="1")
    again = admin.get("/api").get_data(as_text=True)
    assert token not in again and "new-token" not in again
    assert f"<code>{token[:12]}…</code>" in again and "ci-deploy-checks" in again and "monitors:read" in again
    assert "Ada" in again  # the minter
    bearer = {"Authorization": f"Bearer {token}"}
    assert admin.get("/api/v1/monitors", headers=bearer).status_code == 200
    assert (
        admin.post("/api/v1/monitors", json={"name": "x", "type": "tcp", "url": "a:1"}, headers=bearer).status_code
        == 403
    )

    key_id = key_named("ci-deploy-checks")
    answer = admin.post(f"/api-keys/{key_id}/revoke", data={"csrf_token": csrf(admin, "/api")})
    assert answer.status_code == 302
    assert admin.get("/api/v1/monitors", headers=bearer).status_code == 401
    page = admin.get("/api").get_data(as_text=True)
    assert "Revoked ci-deploy-checks" in page and "<td>ci-deploy-checks</td>" not in page


def test_a_key_with_every_scope_and_an_expiry(admin: FlaskClient) -> None:
    token = create(admin, "all", expires="2999-01-01")
    key = admin.get("/api/v1/keys", headers={"Authorization": f"Bearer {token}"}).json["keys"][0]
    assert key["expiresAt"] == "2999-01-01T23:59:59.999Z"
    assert "monitors:write" in key["scopes"] and "team:write" in key["scopes"]


def test_a_form_without_a_name_or_with_a_past_expiry_says_why(admin: FlaskClient) -> None:
    answer = admin.post("/api", data={"csrf_token": csrf(admin, "/api"), "name": "", "expires": "2001-01-01"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert 'id="key-name-error">Give the key a name' in page and 'id="key-expires-error">Must be in the future.' in page


def test_a_member_sees_no_revoke_button_and_is_refused_when_posting_anyway(
    client: FlaskClient, org: Organization
) -> None:
    person(org, "admin", email="boss@example.com")
    people_sign_in(client, "boss@example.com")
    token = create(client, "boss key")
    key_id = key_named("boss key")
    client.post("/signout", data={"csrf_token": csrf(client, "/api")})

    person(org, "member")
    people_sign_in(client)
    page = client.get("/api").get_data(as_text=True)
    assert "boss key" in page and ">Revoke<" not in page
    answer = client.post(f"/api-keys/{key_id}/revoke", data={"csrf_token": csrf(client, "/api")})
    assert answer.status_code == 403
    assert client.get("/api/v1/monitors", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_another_organizations_key_cannot_be_revoked(admin: FlaskClient, other_org: Organization) -> None:
    from aloft.testing import issue_key

    key, token = issue_key(admin.application, other_org)
    answer = admin.post(f"/api-keys/{key.id}/revoke", data={"csrf_token": csrf(admin, "/api")})
    assert answer.status_code == 404
    assert admin.get("/api/v1/monitors", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_revoking_needs_the_csrf_token(admin: FlaskClient) -> None:
    token = create(admin, "k")
    key_id = key_named("k")
    assert admin.post(f"/api-keys/{key_id}/revoke").status_code == 400
    assert admin.get("/api/v1/monitors", headers={"Authorization": f"Bearer {token}"}).status_code == 200
