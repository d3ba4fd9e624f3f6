"""One test per example in the product guide: same requests, codes, keys and error strings."""

import re
from datetime import UTC, datetime, timedelta

from api_support import SITE, add_channel, bearer, create_monitor

from aloft.extensions import db
from aloft.models import ApiKey, Incident, Monitor

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_listing_monitors_with_a_bearer_token(client, auth_headers):
    create_monitor(client, auth_headers)
    response = client.get("/api/v1/monitors", headers=auth_headers)
    assert response.status_code == 200
    assert list(response.json) == ["monitors"]
    monitor = response.json["monitors"][0]
    assert {"id", "name", "type", "status"} <= set(monitor)
    assert (monitor["name"], monitor["type"], monitor["status"]) == ("My site", "http", "pending")


def test_a_missing_or_malformed_header_is_401(client, token):
    expected = {"error": "Missing or malformed Authorization header. Expected 'Bearer <token>'."}
    for headers in ({}, {"Authorization": token}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}):
        response = client.get("/api/v1/monitors", headers=headers)
        assert response.status_code == 401
        assert response.json == expected


def test_an_unrecognised_token_is_401(client, token):
    for bad in ("ur_" + "x" * 24, token[:-1] + ("a" if token[-1] != "a" else "b"), "not-a-token"):
        response = client.get("/api/v1/monitors", headers=bearer(bad))
        assert response.status_code == 401
        assert response.json == {"error": "Invalid API token"}


def test_revoking_is_immediate(client, auth_headers, app, org):
    from aloft.testing import issue_key

    other, other_token = issue_key(app, org, "to revoke")
    assert client.get("/api/v1/monitors", headers=bearer(other_token)).status_code == 200
    assert client.delete(f"/api/v1/keys/{other.id}", headers=auth_headers).json == {"ok": True}
    response = client.get("/api/v1/monitors", headers=bearer(other_token))
    assert response.status_code == 401
    assert response.json == {"error": "Invalid API token"}


def test_an_expired_key_is_401(client, app, org):
    from aloft.testing import issue_key

    key, token = issue_key(app, org, "short-lived", expires_at=datetime.now(UTC) + timedelta(hours=1))
    assert client.get("/api/v1/status", headers=bearer(token)).status_code == 200
    key.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()
    response = client.get("/api/v1/status", headers=bearer(token))
    assert response.status_code == 401
    assert response.json == {"error": "API token expired"}


def test_creating_a_monitor_returns_201_with_defaults(client, auth_headers):
    response = client.post("/api/v1/monitors", json=SITE, headers=auth_headers)
    assert response.status_code == 201
    assert list(response.json) == ["monitor"]
    monitor = response.json["monitor"]
    assert monitor["name"] == "My site" and monitor["type"] == "http" and monitor["url"] == "https://example.com"
    assert monitor["intervalSeconds"] == 300 and monitor["confirmationCount"] == 2
    assert monitor["timeoutSeconds"] == 10 and monitor["paused"] is False and monitor["channelIds"] == []
    assert ISO_Z.match(monitor["createdAt"]) and ISO_Z.match(monitor["updatedAt"])
    assert monitor["lastCheckedAt"] is None


def test_a_validation_failure_is_400_with_issues(client, auth_headers):
    response = client.post("/api/v1/monitors", json={"name": "My site", "type": "http"}, headers=auth_headers)
    assert response.status_code == 400
    assert response.json["error"] == "Validation failed"
    assert response.json["issues"] == [{"path": ["url"], "message": "Required for http monitors."}]


def test_referencing_a_channel_the_org_does_not_own_is_403(client, auth_headers, other_org):
    foreign = add_channel(other_org)
    response = client.post("/api/v1/monitors", json={**SITE, "channelIds": [foreign.id]}, headers=auth_headers)
    assert response.status_code == 403
    assert "error" in response.json
    assert db.session.query(Monitor).count() == 0


def test_getting_one_monitor_returns_monitor_stats_and_recent_incidents(client, auth_headers):
    created = create_monitor(client, auth_headers)
    response = client.get(f"/api/v1/monitors/{created['id']}", headers=auth_headers)
    assert response.status_code == 200
    assert set(response.json) == {"monitor", "stats", "recentIncidents"}
    assert response.json["monitor"] == created
    assert response.json["recentIncidents"] == []


def test_a_monitor_outside_the_org_is_404(client, auth_headers):
    response = client.get("/api/v1/monitors/0b7c6a3e-0000-4000-8000-000000000000", headers=auth_headers)
    assert response.status_code == 404
    assert response.json == {"error": "Monitor not found"}


def test_patch_bumps_just_the_interval(client, auth_headers):
    created = create_monitor(client, auth_headers, intervalSeconds=300)
    response = client.patch(f"/api/v1/monitors/{created['id']}", json={"intervalSeconds": 120}, headers=auth_headers)
    assert response.status_code == 200
    updated = response.json["monitor"]
    assert updated["intervalSeconds"] == 120
    assert {k: v for k, v in updated.items() if k not in ("intervalSeconds", "updatedAt")} == {
        k: v for k, v in created.items() if k not in ("intervalSeconds", "updatedAt")
    }


def test_put_replaces_the_whole_monitor(client, auth_headers):
    created = create_monitor(client, auth_headers, confirmationCount=5)
    replacement = {"name": "My site", "type": "http", "url": "https://example.com", "intervalSeconds": 120}
    response = client.put(f"/api/v1/monitors/{created['id']}", json=replacement, headers=auth_headers)
    assert response.status_code == 200
    monitor = response.json["monitor"]
    assert monitor["intervalSeconds"] == 120
    assert monitor["confirmationCount"] == 2, "a field left out of a PUT returns to its default"


def test_put_needs_a_complete_input(client, auth_headers):
    created = create_monitor(client, auth_headers)
    response = client.put(f"/api/v1/monitors/{created['id']}", json={"intervalSeconds": 120}, headers=auth_headers)
    assert response.status_code == 400
    paths = {tuple(issue["path"]) for issue in response.json["issues"]}
    assert {("name",), ("type",)} <= paths


def test_updates_of_a_monitor_outside_the_org_are_404(client, auth_headers):
    missing = "/api/v1/monitors/0b7c6a3e-0000-4000-8000-000000000000"
    assert client.patch(missing, json={"intervalSeconds": 120}, headers=auth_headers).status_code == 404
    assert client.put(missing, json=SITE, headers=auth_headers).status_code == 404


def test_delete_removes_the_monitor(client, auth_headers):
    created = create_monitor(client, auth_headers)
    response = client.delete(f"/api/v1/monitors/{created['id']}", headers=auth_headers)
    assert response.status_code == 200
    assert response.json == {"ok": True}
    assert client.get(f"/api/v1/monitors/{created['id']}", headers=auth_headers).status_code == 404


def test_status_returns_counts_and_open_incidents(client, auth_headers, org):
    down = create_monitor(client, auth_headers, name="Down site")
    create_monitor(client, auth_headers, name="Paused site", paused=True)
    started = datetime(2026, 6, 2, 10, 0, tzinfo=UTC)
    stored = db.session.get(Monitor, down["id"])
    stored.status = "down"
    incident = Incident(org_id=org.id, monitor_id=stored.id, cause="Connection refused", started_at=started)
    db.session.add(incident)
    db.session.commit()
    response = client.get("/api/v1/status", headers=auth_headers)
    assert response.status_code == 200
    assert response.json["counts"] == {"total": 2, "up": 0, "down": 1, "paused": 1, "pending": 0}
    assert response.json["openIncidents"] == [
        {
            "incidentId": incident.id,
            "monitorId": stored.id,
            "monitorName": "Down site",
            "startedAt": "2026-06-02T10:00:00.000Z",
            "cause": "Connection refused",
        }
    ]


def test_every_response_carries_rate_limit_headers(client, auth_headers):
    for response in (
        client.get("/api/v1/status", headers=auth_headers),
        client.get("/api/v1/monitors/nope", headers=auth_headers),
        client.get("/api/v1/status"),
        client.get("/api/v1/status", headers=bearer("ur_" + "0" * 24)),
    ):
        assert response.headers["X-RateLimit-Limit"] in ("600", "20")
        assert int(response.headers["X-RateLimit-Remaining"]) >= 0
        assert int(response.headers["X-RateLimit-Reset"]) > 0
        assert "Retry-After" not in response.headers


def test_over_the_limit_is_429_with_retry_after(tmp_path, aloft_database_url, org):
    from aloft.app import create_app
    from aloft.testing import issue_key, make_settings

    app = create_app(make_settings(tmp_path, aloft_database_url, ALOFT_RATE_LIMIT="3"))
    client = app.test_client()
    with app.app_context():
        _, token = issue_key(app, db.session.merge(org), "limited")
    codes = [client.get("/api/v1/status", headers=bearer(token)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = client.get("/api/v1/status", headers=bearer(token))
    assert response.status_code == 429
    assert response.json == {"error": "Rate limit exceeded"}
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert response.headers["X-RateLimit-Remaining"] == "0"


def test_the_openapi_document_is_served(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json["openapi"].startswith("3.1")
    assert "/api/v1/monitors" in response.json["paths"]


def test_keys_are_never_stored_in_the_clear(client, auth_headers):
    token = client.post("/api/v1/keys", json={"name": "ci"}, headers=auth_headers).json["key"]["token"]
    for key in db.session.query(ApiKey):
        for column in ApiKey.__table__.columns:
            assert token not in str(getattr(key, column.key))
