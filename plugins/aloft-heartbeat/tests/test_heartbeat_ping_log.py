"""The ping log: GET /api/v1/monitors/{id}/pings, newest first, paged, for readers of the monitor's organization."""

import pytest
from heartbeat_support import create_heartbeat, ping_path

from aloft.testing import issue_key


def log(client, headers, monitor, query=""):
    response = client.get(f"/api/v1/monitors/{monitor['id']}/pings{query}", headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def test_the_log_shows_each_ping_newest_first_with_what_the_job_sent(client, auth_headers, heartbeat):
    path = ping_path(heartbeat)
    client.get(f"{path}/start?rid=run-1", headers={"User-Agent": "cron/1"})
    client.post(f"{path}/0?rid=run-1", data="42 files backed up\n", headers={"User-Agent": "curl/8.5.0"})
    client.post(f"{path}/fail", data="x" * 12_000)
    pings = log(client, auth_headers, heartbeat)["pings"]
    assert [ping["kind"] for ping in pings] == ["fail", "success", "start"]
    failed, finished, started = pings
    assert set(finished) == {
        "id",
        "kind",
        "receivedAt",
        "method",
        "sourceIp",
        "userAgent",
        "durationMs",
        "exitStatus",
        "rid",
        "body",
        "bodyTruncated",
    }
    assert (finished["method"], finished["sourceIp"], finished["userAgent"]) == ("POST", "127.0.0.1", "curl/8.5.0")
    assert (finished["exitStatus"], finished["rid"], finished["body"]) == (0, "run-1", "42 files backed up\n")
    assert finished["durationMs"] >= 0 and finished["receivedAt"].endswith("Z")
    assert (started["durationMs"], started["exitStatus"], started["body"]) == (None, None, None)
    assert (failed["bodyTruncated"], len(failed["body"])) == (True, 10_000)
    assert finished["bodyTruncated"] is False


def test_the_log_pages_with_limit_and_cursor(client, auth_headers, heartbeat):
    for _ in range(5):
        client.get(ping_path(heartbeat))
    everything = [ping["id"] for ping in log(client, auth_headers, heartbeat)["pings"]]
    first = log(client, auth_headers, heartbeat, "?limit=2")
    second = log(client, auth_headers, heartbeat, f"?limit=2&cursor={first['nextCursor']}")
    third = log(client, auth_headers, heartbeat, f"?limit=2&cursor={second['nextCursor']}")
    assert [ping["id"] for page in (first, second, third) for ping in page["pings"]] == everything
    assert third["nextCursor"] is None


@pytest.mark.parametrize("query", ["?cursor=abc", "?cursor=0", "?cursor=-1", "?limit=0", "?limit=1001", "?since=1"])
def test_bad_paging_is_a_400_naming_the_parameter(client, auth_headers, heartbeat, query):
    response = client.get(f"/api/v1/monitors/{heartbeat['id']}/pings{query}", headers=auth_headers)
    assert response.status_code == 400
    assert response.json["issues"][0]["path"][0] == query[1:].split("=")[0]


def test_reading_the_log_needs_monitors_read_and_the_monitors_organization(client, app, org, other_org, heartbeat):
    client.get(ping_path(heartbeat))
    _, reader = issue_key(app, org, "dashboard", scopes=["monitors:read"])
    assert len(log(client, {"Authorization": f"Bearer {reader}"}, heartbeat)["pings"]) == 1
    _, stranger = issue_key(app, org, "alerts only", scopes=["alerts:read"])
    response = client.get(f"/api/v1/monitors/{heartbeat['id']}/pings", headers={"Authorization": f"Bearer {stranger}"})
    assert response.status_code == 403
    _, outsider = issue_key(app, other_org, "other org")
    response = client.get(f"/api/v1/monitors/{heartbeat['id']}/pings", headers={"Authorization": f"Bearer {outsider}"})
    assert response.status_code == 404
    assert response.json == {"error": "Monitor not found"}


def test_a_monitor_that_reaches_out_has_an_empty_log(client, auth_headers):
    body = {"name": "My site", "type": "http", "url": "https://example.com"}
    monitor = client.post("/api/v1/monitors", json=body, headers=auth_headers).json["monitor"]
    assert log(client, auth_headers, monitor) == {"pings": [], "nextCursor": None}


def test_each_monitor_shows_only_its_own_pings(client, auth_headers, heartbeat):
    other = create_heartbeat(client, auth_headers, name="Other job")
    client.get(ping_path(other))
    assert log(client, auth_headers, heartbeat)["pings"] == []
