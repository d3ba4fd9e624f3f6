"""The incidents page pages by cursor, in plain links: every incident once, the filter kept, one organization's only."""

from __future__ import annotations

import html
import re

import pytest
from api_support import bearer, create_monitor
from flask.testing import FlaskClient
from people_support import person
from people_support import sign_in as people_sign_in
from sqlalchemy import select
from web_support import csrf, record

from aloft.checks import CheckResult
from aloft.extensions import db
from aloft.models import Incident, Organization
from aloft.testing import issue_key
from aloft.web.incident_pages import PAGE

DOWN = CheckResult(ok=False, latency_ms=None, cause="HTTP 503")
UP = CheckResult(ok=True, latency_ms=20.0)
ROW = re.compile(r'<tr id="incident-([0-9a-f-]+)"')


@pytest.fixture
def signed_in(client: FlaskClient, org: Organization) -> None:
    person(org, "admin")
    assert people_sign_in(client, "ada@example.com").status_code == 302


def outages(client: FlaskClient, headers: dict[str, str], monitors: int, each: int, name: str) -> None:
    """``monitors`` monitors, each with ``each`` incidents (the last still open) at the same minutes:
    incidents of different monitors share their start time."""
    for index in range(monitors):
        monitor = create_monitor(client, headers, name=f"{name} {index}", confirmationCount=1)
        record(monitor["id"], *[DOWN, UP] * (each - 1), DOWN)


def newest_first(org: Organization, status: str | None = None) -> list[Incident]:
    query = select(Incident).where(Incident.org_id == org.id)
    if status is not None:
        query = query.where(Incident.status == status)
    found = db.session.scalars(query.order_by(Incident.started_at.desc(), Incident.id.desc())).all()
    db.session.rollback()
    return list(found)


def shown(text: str) -> list[str]:
    return ROW.findall(text)


def link(text: str, label: str) -> str | None:
    """Where the page's ``label`` link (Newer, Older) leads; None when the page has none."""
    found = re.search(rf'<a href="([^"]+)" rel="(?:prev|next)">[^<]*{label}[^<]*</a>', text)
    return None if found is None else html.unescape(found.group(1))


def page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def test_older_and_newer_pages_show_every_incident_once_and_never_another_organizations(
    app, client, org, other_org, auth_headers, signed_in
):
    outages(client, auth_headers, monitors=3, each=20, name="Shop")
    _, other_token = issue_key(app, other_org, "globex key")
    outages(client, bearer(other_token), monitors=1, each=5, name="Globex")
    ours = newest_first(org)
    foreign = {incident.id for incident in newest_first(other_org)}
    assert len(ours) == 60 and len(foreign) == 5
    # Three incidents start at each minute: the first page ends inside such a tie.
    assert ours[PAGE - 1].started_at == ours[PAGE].started_at
    expected = [incident.id for incident in ours]

    first = page(client, "/incidents")
    assert shown(first) == expected[:PAGE]
    assert link(first, "Newer") is None
    older = link(first, "Older")
    assert older is not None and older.startswith("/incidents?older=")

    second = page(client, older)
    assert shown(second) == expected[PAGE:], "the older page starts right after the first: none repeated or skipped"
    assert link(second, "Older") is None, "nothing is older"
    newer = link(second, "Newer")
    assert newer is not None

    back = page(client, newer)
    assert shown(back) == expected[:PAGE], "Newer leads back to the first page"
    assert link(back, "Newer") is None and link(back, "Older") == older
    for text in (first, second, back):
        assert not foreign & set(shown(text)) and "Globex" not in text


def test_the_open_or_resolved_filter_is_kept_from_page_to_page(client, org, auth_headers, signed_in):
    outages(client, auth_headers, monitors=3, each=20, name="Shop")
    resolved = [incident.id for incident in newest_first(org, "resolved")]
    assert len(resolved) == 57

    first = page(client, "/incidents?status=resolved")
    assert shown(first) == resolved[:PAGE]
    older = link(first, "Older")
    assert older is not None and "status=resolved" in older
    second = page(client, older)
    assert shown(second) == resolved[PAGE:]
    newer = link(second, "Newer")
    assert newer is not None and "status=resolved" in newer
    assert shown(page(client, newer)) == resolved[:PAGE]

    open_page = page(client, "/incidents?status=open")
    assert len(shown(open_page)) == 3 and link(open_page, "Older") is None and link(open_page, "Newer") is None


def test_acting_on_an_incident_leads_back_to_the_same_page_and_filter(client, org, auth_headers, signed_in):
    outages(client, auth_headers, monitors=1, each=2, name="Shop")
    (incident, _) = newest_first(org)
    text = page(client, "/incidents?status=open")
    assert '<input type="hidden" name="next" value="/incidents?status=open">' in text
    form = {"csrf_token": csrf(client, "/incidents"), "next": "/incidents?status=open"}
    answer = client.post(f"/incidents/{incident.id}/acknowledge", data=form)
    assert answer.headers["Location"] == f"/incidents?status=open#incident-{incident.id}"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example/", "/\t/evil.example/"]
)
def test_acting_on_an_incident_never_leads_off_this_server(client, org, auth_headers, signed_in, target):
    outages(client, auth_headers, monitors=1, each=1, name="Shop")
    (incident,) = newest_first(org)
    form = {"csrf_token": csrf(client, "/incidents"), "next": target}
    answer = client.post(f"/incidents/{incident.id}/acknowledge", data=form)
    assert answer.headers["Location"] == f"/incidents#incident-{incident.id}"


@pytest.mark.parametrize("query", ["older=nonsense", "newer=zz", "older=" + "f" * 47, "newer="])
def test_a_cursor_that_is_not_one_shows_the_newest_page(client, org, auth_headers, signed_in, query):
    outages(client, auth_headers, monitors=1, each=3, name="Shop")
    expected = [incident.id for incident in newest_first(org)]
    assert shown(page(client, f"/incidents?{query}")) == expected


def test_a_page_past_the_oldest_incident_says_so_and_leads_back(client, org, auth_headers, signed_in):
    outages(client, auth_headers, monitors=1, each=3, name="Shop")
    expected = [incident.id for incident in newest_first(org)]
    past = "0" * 14  # the position at 1970: nothing is older
    text = page(client, f"/incidents?older={past}")
    assert shown(text) == [] and "No older incidents." in text
    newer = link(text, "Newer")
    assert newer is not None
    assert shown(page(client, newer)) == expected


def test_a_visitor_who_is_not_signed_in_sees_no_page_of_incidents(client: FlaskClient, org, auth_headers) -> None:
    outages(client, auth_headers, monitors=1, each=1, name="Shop")
    for path in ("/incidents", "/incidents?older=" + "f" * 14, "/incidents?newer=" + "0" * 14):
        answer = client.get(path)
        assert answer.status_code == 302 and "Shop" not in answer.get_data(as_text=True), path
