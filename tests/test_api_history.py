"""GET /api/v1/monitors/{id}/results and /uptime: paged raw results and the daily series, bad input refused."""

from datetime import timedelta

import pytest
from api_support import bearer, create_monitor

from aloft.checks import CheckResult
from aloft.engine.state import record_many, slot_time
from aloft.extensions import db
from aloft.models import utcnow
from aloft.testing import issue_key

MINUTE = 60_000


@pytest.fixture
def monitor(client, auth_headers):
    return create_monitor(client, auth_headers, intervalSeconds=60)


def feed(monitor_id, first_slot, count):
    outcomes = [
        (monitor_id, first_slot + n * MINUTE, CheckResult(n % 4 != 3, 10.0 + n, None if n % 4 != 3 else "HTTP 503"))
        for n in range(count)
    ]
    record_many(db.session, outcomes)
    db.session.commit()
    return [slot for _, slot, _ in outcomes]


def results(client, headers, monitor_id, query=""):
    return client.get(f"/api/v1/monitors/{monitor_id}/results{query}", headers=headers)


def test_results_come_newest_first_a_page_at_a_time(client, auth_headers, monitor):
    start = int((utcnow() - timedelta(hours=1)).timestamp() * 1000)
    slots = feed(monitor["id"], start, 10)
    everything = results(client, auth_headers, monitor["id"]).json
    assert [r["checkedAt"] for r in everything["results"]] == [
        slot_time(slot).isoformat(timespec="milliseconds").replace("+00:00", "Z") for slot in reversed(slots)
    ]
    assert everything["nextCursor"] is None
    assert everything["results"][0] == {
        "checkedAt": everything["results"][0]["checkedAt"],
        "ok": True,
        "latencyMs": 19.0,
        "cause": None,
        "details": None,
    }
    assert everything["results"][2]["cause"] == "HTTP 503"
    pages, cursor = [], ""
    while True:
        body = results(client, auth_headers, monitor["id"], f"?limit=4{cursor}").json
        pages.append(body["results"])
        if body["nextCursor"] is None:
            break
        cursor = f"&cursor={body['nextCursor']}"
    assert [len(page) for page in pages] == [4, 4, 2]
    assert [r for page in pages for r in page] == everything["results"]


def test_results_between_since_and_until(client, auth_headers, monitor):
    start = int((utcnow() - timedelta(hours=1)).timestamp() * 1000)
    slots = feed(monitor["id"], start, 10)
    since = slot_time(slots[3]).isoformat()
    until = slot_time(slots[7]).isoformat()
    from urllib.parse import quote

    body = results(client, auth_headers, monitor["id"], f"?since={quote(since)}&until={quote(until)}").json
    assert len(body["results"]) == 4, "since inclusive, until exclusive"


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ("?since=2027-01-02T00:00:00Z&until=2027-01-01T00:00:00Z", ["since"]),
        ("?since=yesterday", ["since"]),
        ("?until=2027-13-01T00:00:00Z", ["until"]),
        ("?cursor=not-a-cursor", ["cursor"]),
        ("?limit=0", ["limit"]),
        ("?limit=1001", ["limit"]),
        ("?color=red", ["color"]),
    ],
)
def test_bad_result_queries_are_400s_naming_the_parameter(client, auth_headers, monitor, query, path):
    response = results(client, auth_headers, monitor["id"], query)
    assert response.status_code == 400
    assert response.json["error"] == "Validation failed" and path in [i["path"] for i in response.json["issues"]]


def test_the_daily_series_has_one_row_per_day_ending_today(client, auth_headers, monitor, monkeypatch):
    # Noon today, so the checks of two hours before it fall on today at any time of day
    # (run just after midnight, "two hours ago" was yesterday).
    now = utcnow().replace(hour=12, minute=0, second=0, microsecond=0)
    monkeypatch.setattr("aloft.api.history.utcnow", lambda: now)
    feed(monitor["id"], int((now - timedelta(hours=2)).timestamp() * 1000), 8)
    body = client.get(f"/api/v1/monitors/{monitor['id']}/uptime", headers=auth_headers).json
    assert len(body["days"]) == 90
    today = body["days"][-1]
    assert today["date"] == now.date().isoformat()
    assert set(today) == {"date", "uptime", "checks", "downtimeSeconds", "responseTimeP95Ms"}
    assert (today["checks"], today["downtimeSeconds"], today["uptime"]) == (8, 2 * 60, 75.0)
    assert body["days"][0] == {
        "date": body["days"][0]["date"],
        "uptime": None,
        "checks": 0,
        "downtimeSeconds": 0,
        "responseTimeP95Ms": None,
    }
    week = client.get(f"/api/v1/monitors/{monitor['id']}/uptime?days=7", headers=auth_headers).json["days"]
    assert len(week) == 7 and week[-1] == today


@pytest.mark.parametrize("days", ["0", "731", "-5", "ninety", "1.5"])
def test_days_must_be_between_1_and_730(client, auth_headers, monitor, days):
    response = client.get(f"/api/v1/monitors/{monitor['id']}/uptime?days={days}", headers=auth_headers)
    assert response.status_code == 400 and response.json["issues"][0]["path"] == ["days"]


def test_another_orgs_monitor_history_is_404(app, client, monitor, other_org):
    headers = bearer(issue_key(app, other_org, "theirs")[1])
    for path in ("results", "uptime"):
        response = client.get(f"/api/v1/monitors/{monitor['id']}/{path}", headers=headers)
        assert response.status_code == 404 and response.json == {"error": "Monitor not found"}
