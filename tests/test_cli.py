"""The `aloft` command, through Flask's CLI runner, and as a process where it matters where it runs."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from api_support import bearer, create_monitor
from sqlalchemy import func, select

from aloft.bootstrap import bootstrap
from aloft.cli import cli
from aloft.extensions import db
from aloft.keys import hash_token, looks_like_token
from aloft.models import ApiKey, Membership, Organization, User, utcnow
from aloft.testing import issue_key


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
    first = bootstrap(settings)
    assert first is not None and looks_like_token(first.token)
    token = first.token
    assert re.fullmatch(r"http://localhost:8000/setup/[\w-]{40,}", first.setup_url)
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


def test_orgs_create_adds_an_organization_that_keys_can_be_made_for(run):
    result = run("orgs", "create", "initech", "--name", "Initech Ltd")
    assert result.exit_code == 0, result.output
    assert "Created organization initech (Initech Ltd)." in result.output
    assert "keys create NAME --org initech" in result.output
    organization = db.session.scalar(select(Organization).where(Organization.slug == "initech"))
    assert organization.name == "Initech Ltd"
    assert run("keys", "create", "ci", "--org", "initech").exit_code == 0


def test_orgs_create_names_the_organization_after_its_slug_by_default(run):
    assert run("orgs", "create", "acme-2").exit_code == 0
    assert db.session.scalar(select(Organization.name).where(Organization.slug == "acme-2")) == "acme-2"


@pytest.mark.parametrize("slug", ["Acme", "acme corp", "-acme", "acme-", "acme--corp", "acme_corp", "", "a" * 65])
def test_orgs_create_refuses_a_slug_that_is_not_lowercase_words_and_hyphens(app, run, slug):
    result = run("orgs", "create", "--", slug)
    assert result.exit_code == 2
    assert "lowercase letters, digits and hyphens" in result.output
    assert db.session.scalar(select(func.count()).select_from(Organization)) == 0


def test_orgs_create_refuses_a_slug_in_use(org, run):
    result = run("orgs", "create", "acme", "--name", "Another Acme")
    assert result.exit_code == 1
    assert "Organization 'acme' already exists" in result.output
    assert db.session.scalar(select(Organization.name)) == "Acme"


def test_orgs_list_counts_each_organizations_monitors_and_keys_in_force(app, client, org, other_org, run):
    _, token = issue_key(app, org)
    create_monitor(client, bearer(token))
    create_monitor(client, bearer(token), name="Second")
    revoked, _ = issue_key(app, other_org, "revoked")
    revoked.revoked_at = utcnow()
    db.session.commit()
    lines = run("orgs", "list").output.splitlines()
    assert [line.split() for line in lines] == [
        ["SLUG", "NAME", "MONITORS", "KEYS"],
        ["acme", "Acme", "2", "1"],
        ["globex", "Globex", "0", "0"],
    ]


ALOFT = [sys.executable, "-P", "-c", "from aloft.cli import main; main()"]


def aloft(cwd: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """The `aloft` command run in ``cwd``, with only the ``ALOFT_*`` variables given."""
    environ = {name: value for name, value in os.environ.items() if not name.startswith("ALOFT_")}
    return subprocess.run(
        [*ALOFT, *args], cwd=cwd, env={**environ, **variables}, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "command", [["keys", "list"], ["orgs", "list"], ["db", "current"], ["keys", "create", "ci"]], ids=" ".join
)
def test_a_command_outside_an_installation_creates_nothing_and_says_where_it_looked(tmp_path, command):
    result = aloft(tmp_path, *command)
    assert result.returncode == 1
    assert list(tmp_path.iterdir()) == [], "no ./aloft-data, no secret key, no database"
    assert result.stderr.startswith("Error: No Aloft installation here: its database file does not exist.")
    assert f"Data directory: {tmp_path / 'aloft-data'}\n" in result.stderr
    assert f"Database: sqlite:///{tmp_path / 'aloft-data' / 'aloft.db'}\n" in result.stderr
    assert "`aloft --data-dir DIR ...` or ALOFT_DATA_DIR" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_database_without_a_schema_is_no_installation_either(tmp_path):
    (tmp_path / "empty.db").touch()
    result = aloft(tmp_path, "keys", "list", ALOFT_DATABASE_URL="sqlite:///empty.db")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: No Aloft installation here: its database has no Aloft schema.")
    assert "Database: sqlite:///empty.db\n" in result.stderr
    assert list(tmp_path.iterdir()) == [tmp_path / "empty.db"]


def test_plugins_outside_an_installation_lists_them_and_creates_nothing(tmp_path):
    result = aloft(tmp_path, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    assert "http" in [plugin["name"] for plugin in json.loads(result.stdout)]
    assert list(tmp_path.iterdir()) == []


def test_data_dir_points_any_command_at_the_installation(tmp_path):
    installation, elsewhere = tmp_path / "installation", tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert aloft(elsewhere, "--data-dir", str(installation), "db", "upgrade").returncode == 0
    assert aloft(elsewhere, "--data-dir", str(installation), "orgs", "create", "initech").returncode == 0
    listed = aloft(elsewhere, "--data-dir", str(installation), "orgs", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].split() == ["initech", "initech", "0", "0"]
    assert aloft(elsewhere, "orgs", "list", ALOFT_DATA_DIR=str(installation)).stdout == listed.stdout
    assert sorted(path.name for path in installation.iterdir()) == ["aloft.db", "secret_key"]
    assert list(elsewhere.iterdir()) == []


def test_keys_create_refuses_to_hash_with_a_secret_key_the_server_does_not_have(org, tmp_path, aloft_database_url):
    result = aloft(tmp_path, "keys", "create", "ci", ALOFT_DATABASE_URL=aloft_database_url)
    assert result.returncode == 1
    assert "ALOFT_SECRET_KEY is not set and" in result.stderr and "secret_key does not exist" in result.stderr
    assert list(tmp_path.iterdir()) == []
    assert key_count() == 0
