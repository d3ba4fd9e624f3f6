"""The `aloft` command, through Flask's CLI runner."""

import pytest
from sqlalchemy import func, select

from aloft.bootstrap import bootstrap
from aloft.cli import cli
from aloft.extensions import db
from aloft.keys import hash_token, looks_like_token
from aloft.models import ApiKey, Membership, Organization, User


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()

    def invoke(*args: str):
        return runner.invoke(cli, list(args), obj=_script_info(app))

    return invoke


def _script_info(app):
    from flask.cli import ScriptInfo

    return ScriptInfo(create_app=lambda: app)


def key_count() -> int:
    return db.session.scalar(select(func.count()).select_from(ApiKey))


def test_keys_create_prints_the_token_last_and_stores_only_its_hash(app, org, run):
    result = run("keys", "create", "deploy-bot")
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert looks_like_token(token)
    key = db.session.scalar(select(ApiKey))
    assert key.name == "deploy-bot" and key.org_id == org.id
    assert key.prefix == token[:12]
    assert key.token_hash == hash_token(app.config["SECRET_KEY"], token)
    assert key.scopes is None and key.expires_at is None
    for column in ApiKey.__table__.columns:
        assert token not in str(getattr(key, column.key))


def test_keys_create_with_scopes_and_expiry(app, org, run):
    result = run(
        "keys", "create", "ci", "--scope", "monitors:write", "--scope", "monitors:read,alerts:read", "--expires-in", "7"
    )
    assert result.exit_code == 0, result.output
    key = db.session.scalar(select(ApiKey))
    assert key.scopes == ["monitors:read", "monitors:write", "alerts:read"]
    assert 6.9 < (key.expires_at - key.created_at).total_seconds() / 86400 < 7.1
    assert "Scopes: monitors:read, monitors:write, alerts:read" in result.output


def test_keys_create_refuses_an_invalid_scope_and_writes_nothing(org, run):
    result = run("keys", "create", "ci", "--scope", "monitors:admin")
    assert result.exit_code == 2
    assert "Unknown scope 'monitors:admin'" in result.output
    assert "Traceback" not in result.output
    assert key_count() == 0


def test_keys_create_refuses_an_unknown_org_and_writes_nothing(org, run):
    result = run("keys", "create", "ci", "--org", "initech")
    assert result.exit_code == 2
    assert "no organization 'initech' (known: acme)" in result.output
    assert key_count() == 0


def test_keys_create_needs_org_when_there_are_several(org, other_org, run):
    result = run("keys", "create", "ci")
    assert result.exit_code == 2
    assert "choose one with --org (acme, globex)" in result.output
    assert run("keys", "create", "ci", "--org", "globex").exit_code == 0
    assert db.session.scalar(select(ApiKey.org_id)) == other_org.id


def test_keys_create_without_any_org_says_how_to_make_one(app, run):
    result = run("keys", "create", "ci")
    assert result.exit_code == 1
    assert "run `aloft up` once" in result.output


def test_keys_list_shows_prefixes_never_tokens(org, other_org, run):
    token = run("keys", "create", "first", "--org", "acme").output.strip().splitlines()[-1]
    run("keys", "create", "second", "--org", "globex", "--scope", "alerts:read")
    listing = run("keys", "list")
    assert listing.exit_code == 0
    assert token not in listing.output
    assert token[:12] in listing.output
    assert "first" in listing.output and "second" in listing.output and "alerts:read" in listing.output
    only_acme = run("keys", "list", "--org", "acme").output
    assert "first" in only_acme and "second" not in only_acme


def test_keys_revoke_sets_the_revocation_time_once(org, run):
    run("keys", "create", "temp")
    key = db.session.scalar(select(ApiKey))
    result = run("keys", "revoke", key.id)
    assert result.exit_code == 0 and "Revoked key 'temp'" in result.output
    db.session.refresh(key)
    revoked_at = key.revoked_at
    assert revoked_at is not None
    again = run("keys", "revoke", key.id)
    assert again.exit_code == 0 and "already revoked" in again.output
    db.session.refresh(key)
    assert key.revoked_at == revoked_at


def test_keys_revoke_of_an_unknown_id_is_an_error(app, run):
    result = run("keys", "revoke", "0b7c6a3e-0000-0000-0000-000000000000")
    assert result.exit_code == 1
    assert "No API key with id" in result.output


def test_bootstrap_creates_one_org_admin_and_key_and_is_idempotent(app):
    settings = app.extensions["aloft.settings"]
    token = bootstrap(settings)
    assert token is not None and looks_like_token(token)
    assert bootstrap(settings) is None
    assert db.session.scalar(select(func.count()).select_from(Organization)) == 1
    assert db.session.scalar(select(func.count()).select_from(User)) == 1
    membership = db.session.scalar(select(Membership))
    assert membership.role == "admin"
    assert key_count() == 1
    assert db.session.scalar(select(ApiKey.token_hash)) == hash_token(settings.secret_key, token)


def test_db_commands_are_available(run):
    result = run("db", "current")
    assert result.exit_code == 0, result.output
