"""``aloft users``: adding people with a setup link, setting passwords by prompt, listing them."""

import re

import pytest
from flask.cli import ScriptInfo
from people_support import PASSWORD, person, sign_in
from sqlalchemy import select

from aloft.cli import cli
from aloft.extensions import db
from aloft.models import AuditEvent, Membership, User


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app), input=input)

    return invoke


def test_creating_a_user_prints_a_setup_link_that_sets_their_password(app, run, org):
    result = run("users", "create", "Nia@Example.com", "--role", "viewer", "--name", "Nia")
    assert result.exit_code == 0, result.output
    assert "Added nia@example.com to acme as viewer." in result.output
    (url,) = re.findall(r"http://localhost:8000(/setup/[\w-]+)", result.output)
    user = db.session.scalar(select(User).where(User.email == "nia@example.com"))
    assert user.name == "Nia" and user.password_hash is None
    assert db.session.scalar(select(Membership.role).where(Membership.user_id == user.id)) == "viewer"

    browser = app.test_client()
    page = browser.get(url)
    assert page.status_code == 200 and "nia@example.com" in page.get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    done = browser.post(url, data={"password": PASSWORD, "confirm": PASSWORD, "csrf_token": token})
    assert done.status_code == 302
    assert browser.get(url).status_code == 404  # one time only
    assert sign_in(app.test_client(), "nia@example.com").status_code == 302


def test_creating_a_member_twice_or_a_bad_address_is_refused(run, org):
    assert run("users", "create", "ada@example.com").exit_code == 0
    again = run("users", "create", "ada@example.com")
    assert again.exit_code == 1 and "already a member of acme" in again.output
    assert run("users", "create", "not-an-address").exit_code == 2


def test_set_password_prompts_twice_refuses_weak_ones_and_ends_sessions(app, run, org):
    ada = person(org, "member")
    browser = app.test_client()
    sign_in(browser)
    new = "Brisk-otter-Canyon-34"
    result = run("users", "set-password", "ada@example.com", input=f"password1234\npassword1234\n{new}\n{new}\n")
    assert result.exit_code == 0, result.output
    assert "Refused:" in result.output
    assert "Password set for ada@example.com" in result.output
    assert new not in result.output
    assert browser.get("/signin").status_code == 200  # signed out
    assert sign_in(app.test_client(), password=new).status_code == 302
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.password_reset"))
    assert event.org_id == org.id and event.actor_user_id == ada.id


def test_set_password_takes_no_password_argument(run, org):
    person(org)
    result = run("users", "set-password", "ada@example.com", PASSWORD)
    assert result.exit_code == 2


def test_users_list_shows_organizations_and_roles_but_no_secret(run, org, other_org):
    ada = person(org, "admin")
    db.session.add(Membership(org_id=other_org.id, user_id=ada.id, role="viewer"))
    db.session.commit()
    result = run("users", "list")
    assert result.exit_code == 0
    assert re.search(r"ada@example.com\s+Ada\s+acme:admin, globex:viewer\s+set", result.output), result.output
    assert "argon2" not in result.output
