"""The web UI's pages, read through the test client: what they show, to whom, and what they refuse."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

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
    assert "<h2>Response time</h2>" in text and "results-note" not in text and 'id="pings"' not in text
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


def heartbeat(client, auth_headers, **fields):
    """A heartbeat monitor created through the API, and the path its job pings."""
    monitor = create_monitor(client, auth_headers, type="heartbeat", url=None, **fields)
    return monitor, urlsplit(monitor["pingUrl"]).path


def test_a_heartbeat_monitors_page_shows_its_ping_log_with_what_the_job_sent_as_text(
    client, org, auth_headers, sign_in
) -> None:
    sign_in(org)
    monitor, path = heartbeat(client, auth_headers, name="Nightly backup")
    client.get(f"{path}/start?rid=run-1", headers={"User-Agent": "cron/1"})
    client.post(f"{path}/0?rid=run-1", data="<script>alert(1)</script>\n42 files", headers={"User-Agent": "<b>ua</b>"})
    client.post(f"{path}/3", data="x" * 12_000, headers={"User-Agent": "backup.sh"})
    page = client.get(f"/monitors/{monitor['id']}").get_data(as_text=True)
    log = page.partition('<h2 id="pings">Pings</h2>')[2].partition("<h2>")[0]
    rows = log.partition("<tbody>")[2].split("<tr>")[1:]
    assert (
        len(rows) == 3 == len(client.get(f"/api/v1/monitors/{monitor['id']}/pings", headers=auth_headers).json["pings"])
    )
    failed, finished, started = rows
    assert "<td>fail</td><td>3</td>" in failed and "backup.sh" in failed
    assert "10000 characters, cut at 10 KB</summary><pre>" + "x" * 10_000 + "</pre>" in failed
    assert "<td>success</td><td>0</td>" in finished and " ms</td>" in finished and "POST 127.0.0.1" in finished
    assert "<details><summary>" in finished and "<pre>&lt;script&gt;alert(1)&lt;/script&gt;\n42 files</pre>" in finished
    assert "&lt;b&gt;ua&lt;/b&gt;" in finished and "cut" not in finished
    assert "<td>start</td><td></td><td></td><td>GET 127.0.0.1</td>" in started and "<details>" not in started
    assert "<script>alert" not in page and "<b>ua" not in page
    assert monitor["pingUrl"] in page  # an admin may see and copy it


def test_a_heartbeat_monitors_page_shows_its_schedule_grace_last_ping_and_deadline(
    client, org, auth_headers, sign_in
) -> None:
    from aloft.extensions import db
    from aloft.models import Monitor
    from aloft.times import isoformat_z

    sign_in(org)
    settings = {"schedule": "30 2 * * *", "timezone": "Europe/Berlin", "graceSeconds": 300}
    monitor, path = heartbeat(client, auth_headers, name="Nightly backup", settings=settings)
    page = client.get(f"/monitors/{monitor['id']}").get_data(as_text=True)
    assert '<span id="schedule">cron 30 2 * * * (Europe/Berlin)</span>, with a grace of 5m 0s' in page
    assert 'last ping <span class="muted">never</span>' in page and "last check" not in page
    assert '<p class="muted">No pings received yet.</p>' in page
    assert "<h2>Response time</h2>" not in page and "p50, 24 h" not in page  # a heartbeat is not checked
    assert 'id="results-note">A heartbeat is not checked' in page and "<dt>Results, 24 h</dt>" in page
    client.get(f"{path}/start")
    page = client.get(f"/monitors/{monitor['id']}").get_data(as_text=True)
    stored = db.session.get(Monitor, monitor["id"])
    db.session.refresh(stored)
    assert f'A run is under way since <time datetime="{isoformat_z(stored.last_started_at)}">' in page
    assert f'expected by <time datetime="{isoformat_z(stored.next_deadline_at)}">' in page
    client.get(path)
    page = client.get(f"/monitors/{monitor['id']}").get_data(as_text=True)
    db.session.refresh(stored)
    assert f'last ping <time datetime="{isoformat_z(stored.last_ping_at)}">' in page and "(success)" in page
    assert f'last start <time datetime="{isoformat_z(stored.last_started_at)}">' in page
    assert f'expected by <time datetime="{isoformat_z(stored.next_deadline_at)}">' in page
    assert "under way" not in page
    every, _ = heartbeat(client, auth_headers, name="Every five minutes", intervalSeconds=300)
    page = client.get(f"/monitors/{every['id']}").get_data(as_text=True)
    assert '<span id="schedule">every 5m 0s</span>, with a grace of 1m 0s' in page


def test_a_heartbeat_monitors_ping_log_pages_as_the_apis_does(client, org, auth_headers, sign_in) -> None:
    from aloft.pings import record_ping

    sign_in(org)
    monitor, path = heartbeat(client, auth_headers, name="Every minute")
    token = path.rsplit("/", 1)[1]
    for number in range(27):
        record_ping(token, "success", body=f"run {number}.")
    page = client.get(f"/monitors/{monitor['id']}").get_data(as_text=True)
    cursor = client.get(f"/api/v1/monitors/{monitor['id']}/pings?limit=25", headers=auth_headers).json["nextCursor"]
    assert "run 26." in page and "run 2." in page and "run 1." not in page
    older = f"/monitors/{monitor['id']}?range=24h&amp;pings={cursor}#pings"
    assert f'<a href="{older}">Older pings</a>' in page
    page = client.get(older.replace("&amp;", "&")).get_data(as_text=True)
    assert "run 1." in page and "run 0." in page and "run 2." not in page and "Older pings" not in page
    assert client.get(f"/monitors/{monitor['id']}?pings=abc").status_code == 200  # a bad cursor: the newest


def test_the_dashboard_shows_a_heartbeats_last_ping_and_schedule(client, org, auth_headers, sign_in) -> None:
    sign_in(org)
    shop = create_monitor(client, auth_headers, name="Shop", url="https://shop.example.com/health")
    record(shop["id"], CheckResult(ok=True, latency_ms=100.0), minutes_ago=2)
    _, path = heartbeat(client, auth_headers, name="Backup", settings={"schedule": "30 2 * * *"})
    heartbeat(client, auth_headers, name="Silent", intervalSeconds=600)
    client.get(path)
    rows = {row.split(">")[3].split("<")[0]: row for row in table(client.get("/")).split("<tr>")[1:]}
    assert "<td>cron 30 2 * * * (UTC)<td>last ping " in rows["Backup"]
    assert "<td>every 10m 0s<td>no ping yet<td>" in rows["Silent"]
    assert re.search(r"<td>https://shop.example.com/health<td>[0-9: -]{5,16}<td>", rows["Shop"])
    assert ">Backup<" in table(client.get("/?q=30+2"))  # the schedule is the target the filter reads
    sorted_rows = table(client.get("/?sort=checked&order=desc")).split("<tr>")[1:]
    assert ">Backup<" in sorted_rows[0] and ">Shop<" in sorted_rows[1]  # pinged now, checked 2 minutes ago


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


def test_the_poll_is_refused_once_the_session_ends_or_outlives_its_thirty_days(client, org, sign_in) -> None:
    from datetime import timedelta

    from sqlalchemy import delete, update

    from aloft.extensions import db
    from aloft.models import WebSession, utcnow

    sign_in(org)
    version = client.get("/dashboard/changes").json["version"]
    assert client.get(f"/dashboard/changes?since={version}").status_code == 204
    db.session.execute(update(WebSession).values(created_at=utcnow() - timedelta(days=30, seconds=1)))
    db.session.commit()
    assert client.get(f"/dashboard/changes?since={version}").status_code == 401
    assert people_sign_in(client).status_code == 302
    assert client.get(f"/dashboard/changes?since={version}").status_code == 204
    db.session.execute(delete(WebSession))  # what a password change or a removal does
    db.session.commit()
    assert client.get(f"/dashboard/changes?since={version}").status_code == 401
