"""``/api/v1/keys``: listing, minting, scopes, expiry and revocation."""

from datetime import UTC, datetime, timedelta

from api_support import bearer
from sqlalchemy import select

from aloft.extensions import db
from aloft.keys import SCOPES, hash_token, looks_like_token
from aloft.models import ApiKey, Membership, User
from aloft.testing import issue_key

KEY_FIELDS = {"id", "name", "prefix", "scopes", "createdAt", "expiresAt", "lastUsedAt", "mintedBy"}


def test_listing_keys_shows_the_documented_fields_and_no_token(client, auth_headers, token):
    response = client.get("/api/v1/keys", headers=auth_headers)
    assert response.status_code == 200
    (key,) = response.json["keys"]
    assert set(key) == KEY_FIELDS
    assert key["prefix"] == token[:12]
    assert key["scopes"] == list(SCOPES), "a key without scopes has all of them"
    assert token not in response.get_data(as_text=True)


def test_creating_a_key_shows_its_token_once(client, auth_headers, app):
    expires = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    body = {"name": "ci-deploy-checks", "scopes": ["monitors:read"], "expiresAt": expires}
    response = client.post("/api/v1/keys", json=body, headers=auth_headers)
    assert response.status_code == 201
    created = response.json["key"]
    assert set(created) == KEY_FIELDS | {"token"}
    assert looks_like_token(created["token"]) and created["prefix"] == created["token"][:12]
    assert created["scopes"] == ["monitors:read"] and created["expiresAt"] == expires
    stored = db.session.get(ApiKey, created["id"])
    assert stored.token_hash == hash_token(app.config["SECRET_KEY"], created["token"])
    listed = client.get("/api/v1/keys", headers=auth_headers).json["keys"]
    assert all("token" not in key for key in listed)
    assert client.get("/api/v1/status", headers=bearer(created["token"])).status_code == 200


def test_a_key_cannot_grant_scopes_it_does_not_have(client, app, org):
    _, token = issue_key(app, org, "limited", scopes=["api-keys:write", "monitors:read"])
    response = client.post("/api/v1/keys", json={"name": "x", "scopes": ["monitors:write"]}, headers=bearer(token))
    assert response.status_code == 403
    assert response.json == {"error": "Cannot grant scopes the calling key does not have: monitors:write"}
    inherited = client.post("/api/v1/keys", json={"name": "y"}, headers=bearer(token))
    assert inherited.status_code == 201
    assert inherited.json["key"]["scopes"] == ["monitors:read", "api-keys:write"]


def test_key_input_is_validated(client, auth_headers):
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    cases = [
        ({}, ("name",)),
        ({"name": ""}, ("name",)),
        ({"name": "x", "scopes": ["status-pages:write"]}, ("scopes", 0)),
        ({"name": "x", "expiresAt": past}, ("expiresAt",)),
        ({"name": "x", "expiresAt": "tomorrow"}, ("expiresAt",)),
        ({"name": "x", "expiresAt": "9999-12-31T23:00:00-05:00"}, ("expiresAt",)),
        ({"name": "x", "token": "ur_mine"}, ("token",)),
    ]
    for body, path in cases:
        response = client.post("/api/v1/keys", json=body, headers=auth_headers)
        assert response.status_code == 400, body
        assert path in {tuple(issue["path"]) for issue in response.json["issues"]}, body
    assert len(client.get("/api/v1/keys", headers=auth_headers).json["keys"]) == 1


def test_revoking_is_admin_only(client, app, org):
    member = User(email="member@example.com")
    db.session.add_all([member, Membership(org_id=org.id, user=member, role="member")])
    db.session.commit()
    _, member_token = issue_key(app, org, "member key", user=member)
    target, _ = issue_key(app, org, "target")
    response = client.delete(f"/api/v1/keys/{target.id}", headers=bearer(member_token))
    assert response.status_code == 403
    assert response.json == {"error": "Only admins can revoke API keys"}
    db.session.refresh(target)
    assert target.revoked_at is None


def test_revoked_keys_leave_the_list_and_cannot_be_revoked_twice(client, auth_headers, app, org):
    target, _ = issue_key(app, org, "target")
    assert client.delete(f"/api/v1/keys/{target.id}", headers=auth_headers).status_code == 200
    assert [key["name"] for key in client.get("/api/v1/keys", headers=auth_headers).json["keys"]] == ["test key"]
    again = client.delete(f"/api/v1/keys/{target.id}", headers=auth_headers)
    assert again.status_code == 404 and again.json == {"error": "API key not found"}


def test_last_used_is_recorded(client, auth_headers):
    client.get("/api/v1/status", headers=auth_headers)
    assert db.session.scalar(select(ApiKey.last_used_at)) is not None
