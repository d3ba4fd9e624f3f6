"""The web UI's pages, read through the test client: what they show, to whom, and what they refuse."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from api_support import create_monitor
from flask.testing import FlaskClient
from people_support import PASSWORD, person
from people_support import sign_in as people_sign_in
from web_support import TOKEN, csrf, record

from aloft.checks import CheckResult
from aloft.models import Organization

EVIL_NAME = "{{7*7}}<script>alert(1)</script>"


@pytest.fixture
def sign_in(client: FlaskClient) -> Callable[..., None]:
    """Sign a new person into an organization with a role, through the sign-in page."""

    def as_person(organization: Organization, role: str = "admin", email: str = "ada@example.com") -> None:
        person(organization, role, email=email)
        assert people_sign_in(client, email).status_code == 302

    return as_person


def test_the_root_is_the_sign_in_page_until_someone_signs_in(client):
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert 'action="/signin"' in response.get_data(as_text=True)


def table(page) -> str:
    """The monitors table of a dashboard page."""
    return page.get_data(as_text=True).partition("<tbody>")[2]


def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(client: FlaskClient, org, auth_headers) -> None:
    monitor = create_monitor(client, auth_headers, name="Secret shop")
    page = client.get(f"/monitors/{monitor['id']}")
    assert page.status_code == 302
    text = client.get(page.headers["Location"]).get_data(as_text=True)
    assert "Secret shop" not in text and "Sign in" in text


def test_the_dashboard_lists_every_monitor_with_what_people_typed_shown_as_text(client, org, auth_headers, sign_in):
    sign_in(org)
    create_monitor(client, auth_headers, name=EVIL_NAME)
    create_monitor(client, auth_headers, name="Shop", url="https://shop.example.com/health")
    page = client.get("/")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "{{7*7}}&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script>alert" not in text and ">49<" not in text
    assert "https://shop.example.com/health" in text
    assert "<title>Dashboard · Aloft</title>" in text


def test_pages_send_a_policy_without_inline_scripts_and_refuse_frames(client, org, sign_in) -> None:
    sign_in(org)
    headers = client.get("/").headers
    policy = dict(part.strip().partition(" ")[::2] for part in headers["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == "'self'" and "unsafe-inline" not in headers["Content-Security-Policy"]
    assert policy["frame-ancestors"] == "'none'"
    assert headers["X-Frame-Options"] == "DENY"
    assert client.get("/assets/aloft.css").headers["X-Frame-Options"] == "DENY"


def test_every_asset_a_page_names_is_served_by_aloft(client, org, sign_in) -> None:
    sign_in(org)
    text = client.get("/").get_data(as_text=True)
    assets = re.findall(r'(?:href|src)="(/assets/[^"]+)"', text)
    assert sorted(set(assets)) == ["/assets/aloft.css", "/assets/aloft.js", "/assets/favicon.svg"]
    types = {asset: client.get(asset).mimetype for asset in set(assets)}
    assert types == {
        "/assets/aloft.css": "text/css",
        "/assets/aloft.js": "text/javascript",
        "/assets/favicon.svg": "image/svg+xml",
    }
    assert "http://" not in text.partition("<body>")[0] and "https://" not in text.partition("<body>")[0]


def test_the_tab_title_says_how_many_are_down(client, org, auth_headers, sign_in) -> None:
    sign_in(org)
    for name in ("a", "b"):
        monitor = create_monitor(client, auth_headers, name=name, confirmationCount=1)
        record(monitor["id"], CheckResult(ok=False, cause="HTTP 503"))
    text = client.get("/").get_data(as_text=True)
    assert "<title>(2 down) Dashboard · Aloft</title>" in text
    assert "HTTP 503" in text  # the open incidents on top


def test_the_dashboard_filters_and_sorts(client, org, auth_headers, sign_in) -> None:
    sign_in(org)
    down = create_monitor(client, auth_headers, name="Billing", confirmationCount=1)
    record(down["id"], CheckResult(ok=False, cause="Connection refused"))
    create_monitor(client, auth_headers, name="Api", url="https://api.example.com")
    create_monitor(client, auth_headers, name="Cron", type="heartbeat", url=None, settings={"graceSeconds": 60})

    assert "Billing" in client.get("/?status=down").get_data(as_text=True)
    assert "Api" not in client.get("/?status=down").get_data(as_text=True)
    assert ">Cron<" in client.get("/?type=heartbeat").get_data(as_text=True)
    assert ">Api<" not in client.get("/?type=heartbeat").get_data(as_text=True)
    assert ">Api<" in client.get("/?q=API.EXAMPLE").get_data(as_text=True)
    by_name = table(client.get("/?sort=name"))
    assert by_name.index(">Api<") < by_name.index(">Billing<") < by_name.index(">Cron<")
    reverse = table(client.get("/?sort=name&order=desc"))
    assert reverse.index(">Cron<") < reverse.index(">Billing<")
    by_status = table(client.get("/"))
    assert by_status.index(">Billing<") < by_status.index(">Api<")  # down first


def test_the_poll_answers_nothing_changed_until_a_monitor_is_added(client, org, auth_headers, sign_in) -> None:
    sign_in(org)
    version = client.get("/dashboard/changes").json["version"]
    unchanged = client.get(f"/dashboard/changes?since={version}")
    assert unchanged.status_code == 204 and unchanged.data == b""
    create_monitor(client, auth_headers, name="New one")
    changed = client.get(f"/dashboard/changes?since={version}")
    assert changed.status_code == 200 and changed.json["version"] > version
    assert f'data-version="{changed.json["version"]}"' in client.get("/").get_data(as_text=True)


def test_another_organizations_monitor_is_not_shown_nor_found(client, org, other_org, sign_in) -> None:
    from aloft.testing import issue_key

    _, other_token = issue_key(client.application, other_org)
    theirs = create_monitor(client, {"Authorization": f"Bearer {other_token}"}, name="Their shop")
    sign_in(org)
    assert "Their shop" not in client.get("/").get_data(as_text=True)
    page = client.get(f"/monitors/{theirs['id']}")
    assert page.status_code == 404 and "Monitor not found" in page.get_data(as_text=True)
    assert client.get("/monitors/not-an-id").status_code == 404


def test_the_monitor_page_shows_status_cause_stats_and_charts(client, org, auth_headers, sign_in) -> None:
    sign_in(org)
    monitor = create_monitor(client, auth_headers, name="Shop", confirmationCount=1)
    record(
        monitor["id"],
        CheckResult(ok=True, latency_ms=150.0),
        CheckResult(ok=True, latency_ms=150.0),
        CheckResult(ok=False, latency_ms=None, cause="HTTP 503"),
    )
    text = client.get(f"/monitors/{monitor['id']}").get_data(as_text=True)
    assert "<title>Shop · Aloft</title>" in text
    assert "Down" in text and "HTTP 503" in text
    assert "66.67%" in text  # uptime 24 h: 2 of 3 checks
    assert text.count('<rect class="day') == 90
    assert '<svg class="chart"' in text and "average 150 ms" in text
    assert text.count('<tr id="incident-') == 1
    for days in ("7d", "30d"):
        assert '<svg class="chart"' in client.get(f"/monitors/{monitor['id']}?range={days}").get_data(as_text=True)


def test_pausing_needs_the_forms_csrf_token(client, org, auth_headers, sign_in) -> None:
    sign_in(org)
    monitor = create_monitor(client, auth_headers, name="Shop")
    page = f"/monitors/{monitor['id']}"
    assert client.post(f"{page}/pause").status_code == 400
    assert client.post(f"{page}/pause", data={"csrf_token": "forged"}).status_code == 400
    assert client.get(page, headers=auth_headers).status_code == 200
    assert client.post(f"{page}/pause", data={"csrf_token": csrf(client, page)}).status_code == 302
    assert client.get(f"/api/v1/monitors/{monitor['id']}", headers=auth_headers).json["monitor"]["status"] == "paused"
    client.post(f"{page}/resume", data={"csrf_token": csrf(client, page)})
    assert client.get(f"/api/v1/monitors/{monitor['id']}", headers=auth_headers).json["monitor"]["status"] == "pending"


def test_deleting_asks_first_then_deletes(client, org, auth_headers, sign_in) -> None:
    sign_in(org)
    monitor = create_monitor(client, auth_headers, name="Old shop")
    confirm = client.get(f"/monitors/{monitor['id']}/delete").get_data(as_text=True)
    assert "Delete Old shop?" in confirm
    token = csrf(client, f"/monitors/{monitor['id']}/delete")
    assert client.post(f"/monitors/{monitor['id']}/delete", data={"csrf_token": token}).status_code == 302
    assert client.get(f"/api/v1/monitors/{monitor['id']}", headers=auth_headers).status_code == 404


def test_a_notifications_incident_link_leads_to_the_incident_on_its_monitors_page(
    client, org, auth_headers, sign_in
) -> None:
    sign_in(org)
    monitor = create_monitor(client, auth_headers, name="Shop", confirmationCount=1)
    record(monitor["id"], CheckResult(ok=False, cause="HTTP 503"))
    incident = client.get("/api/v1/incidents", headers=auth_headers).json["incidents"][0]
    page = client.get(f"/incidents/{incident['id']}")
    assert page.headers["Location"] == f"/monitors/{monitor['id']}#incident-{incident['id']}"


def test_a_long_page_is_sent_gzipped_to_a_browser_that_takes_it(client, org, auth_headers, sign_in) -> None:
    import gzip

    sign_in(org)
    for index in range(80):
        create_monitor(client, auth_headers, name=f"service {index}")
    plain = client.get("/")
    zipped = client.get("/", headers={"Accept-Encoding": "gzip, deflate"})
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["Vary"]
    assert TOKEN.sub("", gzip.decompress(zipped.data).decode()) == TOKEN.sub("", plain.get_data(as_text=True))
    assert len(zipped.data) < len(plain.data) / 3


def test_a_person_acknowledges_then_resolves_an_incident_and_is_named_for_it(client, org, auth_headers, sign_in):
    sign_in(org, "member")
    monitor = create_monitor(client, auth_headers, name="Shop", confirmationCount=1)
    record(monitor["id"], CheckResult(ok=False, cause="HTTP 503"))
    incident = client.get("/api/v1/incidents", headers=auth_headers).json["incidents"][0]
    page = client.get("/incidents?status=open").get_data(as_text=True)
    assert ">Acknowledge<" in page and "HTTP 503" in page

    form = {"csrf_token": csrf(client, "/incidents"), "next": "/incidents"}
    answer = client.post(f"/incidents/{incident['id']}/acknowledge", data=form)
    assert answer.headers["Location"] == f"/incidents#incident-{incident['id']}"
    after = client.get(f"/api/v1/incidents/{incident['id']}", headers=auth_headers).json["incident"]
    assert after["acknowledgedAt"] and after["acknowledgedBy"]["name"] == "Ada"
    client.post(f"/incidents/{incident['id']}/resolve", data=form)
    after = client.get(f"/api/v1/incidents/{incident['id']}", headers=auth_headers).json["incident"]
    assert (after["status"], after["resolution"], after["resolvedBy"]["name"]) == ("resolved", "manual", "Ada")
    page = client.get("/incidents?status=resolved").get_data(as_text=True)
    assert "by Ada" in page and ">Acknowledge<" not in page


def test_a_viewer_sees_incidents_without_buttons_and_is_refused_the_actions(client, org, auth_headers, sign_in):
    sign_in(org, "viewer")
    monitor = create_monitor(client, auth_headers, name="Shop", confirmationCount=1)
    record(monitor["id"], CheckResult(ok=False, cause="HTTP 503"))
    incident = client.get("/api/v1/incidents", headers=auth_headers).json["incidents"][0]
    page = client.get("/incidents").get_data(as_text=True)
    assert "HTTP 503" in page and ">Acknowledge<" not in page
    answer = client.post(f"/incidents/{incident['id']}/acknowledge", data={"csrf_token": csrf(client, "/incidents")})
    assert answer.status_code == 403
    assert (
        client.get(f"/api/v1/incidents/{incident['id']}", headers=auth_headers).json["incident"]["acknowledgedAt"]
        is None
    )


def test_a_viewer_sees_a_monitor_without_its_buttons_and_cannot_pause_it(client, org, auth_headers, sign_in) -> None:
    sign_in(org, "viewer")
    monitor = create_monitor(client, auth_headers, name="Shop")
    page = client.get(f"/monitors/{monitor['id']}").get_data(as_text=True)
    assert "Shop" in page and ">Pause<" not in page and ">Edit<" not in page and "Delete" not in page
    assert ">New monitor<" not in client.get("/").get_data(as_text=True)
    answer = client.post(f"/monitors/{monitor['id']}/pause", data={"csrf_token": csrf(client, "/")})
    assert answer.status_code == 403
    assert client.get(f"/api/v1/monitors/{monitor['id']}", headers=auth_headers).json["monitor"]["paused"] is False


def test_a_heartbeat_monitors_page_lists_its_pings(client, org, auth_headers, sign_in) -> None:
    from aloft.pings import record_ping

    sign_in(org)
    monitor = create_monitor(client, auth_headers, name="Nightly backup", type="heartbeat", url=None)
    token = monitor["pingUrl"].rsplit("/", 1)[1]
    record_ping(token, "success", method="POST", source_ip="10.0.0.7", body="backup done: 42 files")
    page = client.get(f"/monitors/{monitor['id']}").get_data(as_text=True)
    assert "<h2>Pings</h2>" in page and "10.0.0.7" in page and "backup done: 42 files" in page
    assert monitor["pingUrl"] in page  # an admin may see and copy it


def test_a_person_in_two_organizations_switches_between_them(client, org, other_org, auth_headers) -> None:
    from aloft.extensions import db
    from aloft.models import Membership
    from aloft.testing import issue_key

    ada = person(org, "admin")
    db.session.add(Membership(org_id=other_org.id, user_id=ada.id, role="viewer"))
    db.session.commit()
    _, other_token = issue_key(client.application, other_org)
    create_monitor(client, {"Authorization": f"Bearer {other_token}"}, name="Their shop")
    create_monitor(client, auth_headers, name="Our shop")
    people_sign_in(client)
    page = client.get("/").get_data(as_text=True)
    assert ">Our shop<" in page and ">Their shop<" not in page
    assert '<select id="org-switch" name="org_id" data-autosubmit>' in page and ">Globex</option>" in page

    answer = client.post("/organization", data={"csrf_token": csrf(client), "org_id": other_org.id, "next": "/"})
    assert answer.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert ">Their shop<" in page and ">Our shop<" not in page and "(viewer)" in page


def test_a_notifications_link_leads_through_sign_in_back_to_the_monitor(client, org, auth_headers) -> None:
    monitor = create_monitor(client, auth_headers, name="Shop")
    person(org, "member")
    first = client.get(f"/monitors/{monitor['id']}")
    assert first.headers["Location"] == f"/signin?next=/monitors/{monitor['id']}"
    assert f'name="next" value="/monitors/{monitor["id"]}"' in client.get(first.headers["Location"]).get_data(
        as_text=True
    )
    signed_in = client.post(
        "/signin",
        data={
            "email": "ada@example.com",
            "password": PASSWORD,
            "next": f"/monitors/{monitor['id']}",
            "csrf_token": csrf(client, "/signin"),
        },
    )
    assert signed_in.headers["Location"] == f"/monitors/{monitor['id']}"
    assert ">Shop</h1>" in client.get(signed_in.headers["Location"]).get_data(as_text=True)
