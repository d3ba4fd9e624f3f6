"""Keys cannot escalate: a key may do what its scopes and its minter's role allow now, and outlives no parent."""

from datetime import UTC, datetime, timedelta

import pytest
from api_support import bearer
from sqlalchemy import delete, update

from aloft.access import ROLE_ACTIONS, ROLE_SCOPES
from aloft.extensions import db
from aloft.models import ROLES, ApiKey, Membership, User
from aloft.testing import issue_key


def later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def person(org, role: str, email: str) -> User:
    user = User(email=email)
    db.session.add_all([user, Membership(org_id=org.id, user=user, role=role)])
    db.session.commit()
    return user


def mint(client, token: str, **body):
    return client.post("/api/v1/keys", json={"name": "child", **body}, headers=bearer(token))


def set_role(org, user: User, role: str) -> None:
    db.session.execute(
        update(Membership).where(Membership.org_id == org.id, Membership.user_id == user.id).values(role=role)
    )
    db.session.commit()


@pytest.fixture
def admin(org) -> User:
    return person(org, "admin", "admin@example.com")


@pytest.fixture
def admin_token(app, org, admin) -> str:
    return issue_key(app, org, "admin key", user=admin)[1]


def test_a_key_cannot_mint_a_key_that_outlives_it(client, app, org, admin):
    parent, token = issue_key(app, org, "expiring", user=admin, expires_at=datetime.now(UTC) + timedelta(days=1))
    limit = parent.expires_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    refusal = {
        "error": f"A key cannot mint a key that outlives it: expiresAt must not be later than {limit}, "
        "when the calling key expires"
    }
    for expires in (later(days=2), None):
        response = mint(client, token, expiresAt=expires)
        assert response.status_code == 403 and response.json == refusal, expires
    assert mint(client, token, expiresAt=later(hours=1)).status_code == 201
    assert db.session.query(ApiKey).count() == 2


def test_a_key_minted_by_an_expiring_key_without_expires_at_expires_with_it(client, app, org, admin):
    parent, token = issue_key(app, org, "expiring", user=admin, expires_at=datetime.now(UTC) + timedelta(days=1))
    child = mint(client, token).json["key"]
    assert db.session.get(ApiKey, child["id"]).expires_at == parent.expires_at
    db.session.execute(update(ApiKey).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    db.session.commit()
    refused = client.get("/api/v1/status", headers=bearer(child["token"]))
    assert refused.status_code == 401 and refused.json == {"error": "API token expired"}


def test_a_key_without_expiry_mints_keys_without_expiry_unless_asked(client, admin_token):
    assert mint(client, admin_token).json["key"]["expiresAt"] is None
    expires = later(days=3)
    assert mint(client, admin_token, expiresAt=expires).json["key"]["expiresAt"] == expires


def test_a_key_holding_only_api_keys_write_cannot_revoke_the_admins_key(client, app, org, admin):
    admin_key, admin_token = issue_key(app, org, "admin key", user=admin)
    child = mint(client, admin_token, scopes=["api-keys:write"]).json["key"]
    response = client.delete(f"/api/v1/keys/{admin_key.id}", headers=bearer(child["token"]))
    assert response.status_code == 403
    assert response.json == {
        "error": "Cannot revoke a key with scopes the calling key does not have: "
        "monitors:read, monitors:write, alerts:read, alerts:write, api-keys:read, team:read, team:write"
    }
    assert client.get("/api/v1/status", headers=bearer(admin_token)).status_code == 200


def test_an_admins_key_revokes_keys_whose_scopes_it_has(client, app, org, admin, admin_token):
    child = mint(client, admin_token, scopes=["api-keys:write", "monitors:read"]).json["key"]
    narrower, narrower_token = issue_key(app, org, "reader", scopes=["monitors:read"], user=admin)
    assert client.delete(f"/api/v1/keys/{narrower.id}", headers=bearer(child["token"])).status_code == 200
    assert client.get("/api/v1/status", headers=bearer(narrower_token)).status_code == 401


def test_a_members_key_may_revoke_itself_but_no_other(client, app, org):
    member = person(org, "member", "member@example.com")
    own, token = issue_key(app, org, "member key", user=member)
    other, _ = issue_key(app, org, "other member key", scopes=[], user=member)
    refused = client.delete(f"/api/v1/keys/{other.id}", headers=bearer(token))
    assert refused.status_code == 403 and refused.json == {"error": "Only admins can revoke API keys"}
    assert client.delete(f"/api/v1/keys/{own.id}", headers=bearer(token)).json == {"ok": True}
    assert client.get("/api/v1/status", headers=bearer(token)).json == {"error": "Invalid API token"}


def test_demoting_the_minter_takes_effect_on_the_very_next_request(client, app, org, admin, admin_token):
    first, _ = issue_key(app, org, "first", scopes=[])
    second, _ = issue_key(app, org, "second", scopes=[])
    assert client.delete(f"/api/v1/keys/{first.id}", headers=bearer(admin_token)).status_code == 200
    set_role(org, admin, "member")
    refused = client.delete(f"/api/v1/keys/{second.id}", headers=bearer(admin_token))
    assert refused.status_code == 403 and refused.json == {"error": "Only admins can revoke API keys"}
    set_role(org, admin, "admin")
    assert client.delete(f"/api/v1/keys/{second.id}", headers=bearer(admin_token)).status_code == 200


def test_a_key_uses_only_the_scopes_its_minters_role_allows_now(client, app, org, monkeypatch):
    """A role that allows reading monitors only (as the coming ``viewer`` will) bounds an all-scope key."""
    monkeypatch.setitem(ROLE_SCOPES, "member", frozenset({"monitors:read", "api-keys:write"}))
    member = person(org, "member", "member@example.com")
    _, token = issue_key(app, org, "member key", user=member)
    assert client.get("/api/v1/monitors", headers=bearer(token)).status_code == 200
    refused = client.get("/api/v1/channels", headers=bearer(token))
    assert refused.status_code == 403 and refused.json == {"error": "Missing required scope: alerts:read"}
    granted = mint(client, token, scopes=["alerts:read"])
    assert granted.status_code == 403
    assert granted.json == {"error": "Cannot grant scopes the calling key does not have: alerts:read"}
    assert mint(client, token).json["key"]["scopes"] == ["monitors:read", "api-keys:write"]
    set_role(org, member, "admin")
    assert client.get("/api/v1/channels", headers=bearer(token)).status_code == 200


def test_a_key_whose_minter_left_the_organization_has_no_rights(client, app, org, admin, admin_token):
    db.session.execute(delete(Membership).where(Membership.user_id == admin.id))
    db.session.commit()
    refused = client.get("/api/v1/status", headers=bearer(admin_token))
    assert refused.status_code == 401 and refused.json == {"error": "Invalid API token"}


def test_a_key_whose_minter_was_deleted_does_not_become_the_operators(client, app, org, admin, admin_token):
    target, target_token = issue_key(app, org, "target", scopes=[])
    db.session.execute(delete(User).where(User.id == admin.id))
    db.session.commit()
    assert db.session.scalar(db.select(ApiKey.user_id).where(ApiKey.name == "admin key")) is None
    refused = client.delete(f"/api/v1/keys/{target.id}", headers=bearer(admin_token))
    assert refused.status_code == 401 and refused.json == {"error": "Invalid API token"}
    assert client.get("/api/v1/keys", headers=bearer(target_token)).status_code == 403  # target still alive


def test_the_operators_keys_act_as_admin_and_so_do_the_keys_they_mint(client, app, org, admin, admin_token):
    _, operator_token = issue_key(app, org, "from the command line")
    child = mint(client, operator_token).json["key"]
    assert db.session.get(ApiKey, child["id"]).minted_by_operator
    admin_key = db.session.scalar(db.select(ApiKey).where(ApiKey.name == "admin key"))
    assert client.delete(f"/api/v1/keys/{admin_key.id}", headers=bearer(child["token"])).status_code == 200


def test_a_key_minted_by_a_persons_key_belongs_to_that_person(client, app, org, admin, admin_token):
    child = mint(client, admin_token).json["key"]
    stored = db.session.get(ApiKey, child["id"])
    assert stored.user_id == admin.id and not stored.minted_by_operator


def test_every_role_says_which_scopes_and_actions_it_allows():
    assert set(ROLE_SCOPES) == set(ROLES) == set(ROLE_ACTIONS)
