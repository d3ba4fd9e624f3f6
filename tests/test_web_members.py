"""The members page: everyone sees who is in; admins invite (the link shown once), change roles and remove."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from people_support import person
from people_support import sign_in as people_sign_in
from sqlalchemy import select
from web_support import csrf

from aloft.extensions import db
from aloft.models import Membership, Organization


def test_an_admin_invites_someone_and_sees_the_link_once(client: FlaskClient, org: Organization) -> None:
    person(org, "admin")
    people_sign_in(client)
    answer = client.post("/members/invite", data={"csrf_token": csrf(client, "/members"), "email": "Bo@Example.com"})
    assert answer.status_code == 302
    page = client.get("/members").get_data(as_text=True)
    link = re.search(r'<code id="invite-url">(http[^<]+/invite/[^<]+)</code>', page)
    assert link is not None and "bo@example.com" in page
    assert "/invite/" not in client.get("/members").get_data(as_text=True)
    assert client.get(link.group(1).split("localhost:8000", 1)[1]).status_code == 200


def test_an_admin_changes_a_role_and_removes_a_member_but_not_the_last_admin(client, org: Organization) -> None:
    person(org, "admin")
    bo = person(org, "member", email="bo@example.com")
    people_sign_in(client)
    bo_membership = db.session.scalar(select(Membership).where(Membership.user_id == bo.id))
    token = csrf(client, "/members")
    client.post(f"/members/{bo_membership.id}/role", data={"csrf_token": token, "role": "viewer"})
    db.session.refresh(bo_membership)
    assert bo_membership.role == "viewer"
    client.post(f"/members/{bo_membership.id}/remove", data={"csrf_token": token})
    assert db.session.scalar(select(Membership).where(Membership.user_id == bo.id)) is None

    mine = db.session.scalar(select(Membership).where(Membership.org_id == org.id))
    answer = client.post(
        f"/members/{mine.id}/role", data={"csrf_token": token, "role": "member"}, follow_redirects=True
    )
    assert "An organization needs an admin" in answer.get_data(as_text=True)


def test_a_member_sees_the_members_but_no_controls_and_is_refused_them(client, org: Organization) -> None:
    boss = person(org, "admin", email="boss@example.com")
    person(org, "member")
    people_sign_in(client)
    page = client.get("/members").get_data(as_text=True)
    assert "boss@example.com" in page and ">Remove<" not in page and "Invite" not in page
    boss_membership = db.session.scalar(select(Membership).where(Membership.user_id == boss.id))
    token = csrf(client, "/members")
    assert client.post(f"/members/{boss_membership.id}/remove", data={"csrf_token": token}).status_code == 403
    assert client.post("/members/invite", data={"csrf_token": token, "email": "x@example.com"}).status_code == 403
