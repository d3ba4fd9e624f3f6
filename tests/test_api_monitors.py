"""Monitor input: every way a request can be wrong is a 400 in the guide's format."""

from datetime import UTC, datetime, timedelta

import pytest
from api_support import SITE, add_channel, create_monitor
from sqlalchemy import func, select

from aloft.checks import CheckResult as Result
from aloft.engine.state import record_many
from aloft.extensions import db
from aloft.models import CheckResult, Incident, Monitor


def issues_of(response):
    assert response.status_code == 400, response.json
    assert response.json["error"] == "Validation failed"
    return {tuple(issue["path"]): issue["message"] for issue in response.json["issues"]}


def post(client, headers, body):
    return client.post("/api/v1/monitors", json=body, headers=headers)


def test_unknown_fields_are_rejected(client, auth_headers):
    issues = issues_of(post(client, auth_headers, {**SITE, "intervalMinutes": 5}))
    assert issues == {("intervalMinutes",): "Unknown field."}


def test_read_only_fields_are_ignored_so_a_get_edit_put_round_trip_works(client, auth_headers):
    created = create_monitor(client, auth_headers)
    edited = {**created, "name": "Renamed", "status": "up", "id": "something-else"}
    response = client.put(f"/api/v1/monitors/{created['id']}", json=edited, headers=auth_headers)
    assert response.status_code == 200, response.json
    assert response.json["monitor"]["name"] == "Renamed"
    assert response.json["monitor"]["id"] == created["id"]
    assert response.json["monitor"]["status"] == "pending"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", 42),
        ("name", ""),
        ("intervalSeconds", "300"),
        ("intervalSeconds", 12.5),
        ("intervalSeconds", True),
        ("confirmationCount", None),
        ("paused", "yes"),
        ("settings", ["not", "an", "object"]),
        ("channelIds", "one-id"),
        ("url", 7),
    ],
)
def test_wrong_types_are_rejected_at_their_path(client, auth_headers, field, value):
    assert (field,) in issues_of(post(client, auth_headers, {**SITE, field: value}))


@pytest.mark.parametrize(
    ("field", "value", "accepted"),
    [
        ("intervalSeconds", 9, False),
        ("intervalSeconds", 10, True),
        ("intervalSeconds", 86400, True),
        ("intervalSeconds", 86401, False),
        ("confirmationCount", 0, False),
        ("confirmationCount", 1, True),
        ("confirmationCount", 10, True),
        ("confirmationCount", 11, False),
        ("timeoutSeconds", 0, False),
        ("timeoutSeconds", 1, True),
        ("timeoutSeconds", 60, True),
        ("timeoutSeconds", 61, False),
    ],
)
def test_numbers_are_bounded(client, auth_headers, field, value, accepted):
    response = post(client, auth_headers, {**SITE, field: value})
    if accepted:
        assert response.status_code == 201
        assert response.json["monitor"][field] == value
    else:
        assert (field,) in issues_of(response)


def test_the_timeout_may_not_exceed_the_interval(client, auth_headers):
    issues = issues_of(post(client, auth_headers, {**SITE, "intervalSeconds": 30, "timeoutSeconds": 45}))
    assert issues == {("timeoutSeconds",): "Must not be greater than intervalSeconds."}


def test_an_unknown_type_lists_the_installed_types(client, auth_headers, app):
    installed = sorted(app.extensions["aloft.plugins"].check_types)
    issues = issues_of(post(client, auth_headers, {**SITE, "type": "gopher"}))
    message = issues[("type",)]
    assert message.startswith("Unknown check type 'gopher'. Installed types: ")
    assert all(name in message for name in installed)


def test_type_settings_are_validated_by_the_type(client, auth_headers):
    issues = issues_of(post(client, auth_headers, {**SITE, "settings": {"noSuchSetting": 1}}))
    assert ("settings", "noSuchSetting") in issues


def test_patch_merges_settings_key_by_key_and_revalidates(client, auth_headers):
    created = create_monitor(client, auth_headers, settings={"method": "HEAD", "keyword": "ok"})
    url = f"/api/v1/monitors/{created['id']}"
    merged = client.patch(url, json={"settings": {"keyword": "healthy"}}, headers=auth_headers).json["monitor"]
    assert merged["settings"]["method"] == "HEAD"
    assert merged["settings"]["keyword"] == "healthy"
    removed = client.patch(url, json={"settings": {"keyword": None}}, headers=auth_headers).json["monitor"]
    assert "keyword" not in removed["settings"] and removed["settings"]["method"] == "HEAD"
    issues = issues_of(client.patch(url, json={"timeoutSeconds": 60, "intervalSeconds": 30}, headers=auth_headers))
    assert ("timeoutSeconds",) in issues
    assert client.get(url, headers=auth_headers).json["monitor"]["intervalSeconds"] == 300, "nothing half-written"


def test_patch_rejects_unknown_fields_and_wrong_types(client, auth_headers):
    created = create_monitor(client, auth_headers)
    url = f"/api/v1/monitors/{created['id']}"
    assert ("colour",) in issues_of(client.patch(url, json={"colour": "red"}, headers=auth_headers))
    assert ("paused",) in issues_of(client.patch(url, json={"paused": 1}, headers=auth_headers))


def test_pausing_and_unpausing_sets_the_status(client, auth_headers):
    created = create_monitor(client, auth_headers)
    url = f"/api/v1/monitors/{created['id']}"
    assert client.patch(url, json={"paused": True}, headers=auth_headers).json["monitor"]["status"] == "paused"
    assert client.patch(url, json={"paused": False}, headers=auth_headers).json["monitor"]["status"] == "pending"


def test_malformed_json_is_400(client, auth_headers):
    response = client.post("/api/v1/monitors", data="{not json", content_type="application/json", headers=auth_headers)
    assert response.status_code == 400
    assert response.json == {"error": "Malformed JSON body: the request body is not valid JSON."}


def test_a_body_that_is_not_json_is_400(client, auth_headers):
    response = client.post("/api/v1/monitors", data="name=x", headers=auth_headers)
    assert response.status_code == 400
    assert response.json == {"error": "Request body must be JSON (Content-Type: application/json)."}


def test_a_json_array_body_is_a_validation_error(client, auth_headers):
    response = client.post("/api/v1/monitors", json=[SITE], headers=auth_headers)
    assert issues_of(response)


def test_a_body_over_one_mebibyte_is_413(client, auth_headers):
    body = {**SITE, "name": "x" * (1024 * 1024 + 1)}
    response = client.post("/api/v1/monitors", json=body, headers=auth_headers)
    assert response.status_code == 413
    assert response.json == {"error": "Request body too large (limit 1 MiB)"}
    assert db.session.scalar(select(func.count()).select_from(Monitor)) == 0


def test_channel_ids_attach_the_orgs_own_channels(client, auth_headers, org, other_org):
    own = add_channel(org)
    created = create_monitor(client, auth_headers, channelIds=[own.id])
    assert created["channelIds"] == [own.id]
    foreign = add_channel(other_org, "theirs")
    response = client.patch(
        f"/api/v1/monitors/{created['id']}", json={"channelIds": [own.id, foreign.id]}, headers=auth_headers
    )
    assert response.status_code == 403
    assert response.json == {"error": f"Channel {foreign.id} does not belong to this organization"}
    stored = client.get(f"/api/v1/monitors/{created['id']}", headers=auth_headers).json["monitor"]
    assert stored["channelIds"] == [own.id]


def test_listing_pages_with_limit_and_cursor(client, auth_headers):
    names = [f"site {i}" for i in range(5)]
    for name in names:
        create_monitor(client, auth_headers, name=name)
    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/monitors", query_string=query, headers=auth_headers).json
        seen += [monitor["name"] for monitor in page["monitors"]]
        cursor = page.get("nextCursor")
        if cursor is None:
            break
    assert seen == names


@pytest.mark.parametrize("query", [{"cursor": "%%%"}, {"cursor": "bm90LWpzb24"}, {"limit": 0}, {"limit": "many"}])
def test_bad_paging_arguments_are_400(client, auth_headers, query):
    response = client.get("/api/v1/monitors", query_string=query, headers=auth_headers)
    assert response.status_code == 400
    assert response.json["error"] == "Validation failed"


def test_delete_removes_results_and_incidents(client, auth_headers, org):
    created = create_monitor(client, auth_headers)
    kept = create_monitor(client, auth_headers, name="kept")
    now = datetime.now(UTC)
    for monitor_id in (created["id"], kept["id"]):
        db.session.add(CheckResult(monitor_id=monitor_id, checked_at=now, ok=False, latency_ms=5, cause="HTTP 503"))
        db.session.add(Incident(org_id=org.id, monitor_id=monitor_id, cause="HTTP 503", started_at=now))
    db.session.commit()
    assert client.delete(f"/api/v1/monitors/{created['id']}", headers=auth_headers).status_code == 200
    db.session.expire_all()
    assert db.session.scalars(select(CheckResult.monitor_id)).all() == [kept["id"]]
    assert db.session.scalars(select(Incident.monitor_id)).all() == [kept["id"]]


def test_stats_summarise_the_last_day_of_results(client, auth_headers):
    created = create_monitor(client, auth_headers)
    now = datetime.now(UTC).replace(microsecond=0)

    checks = [(3, True, 100, None), (2, True, 300, None), (1, False, None, "HTTP 503")]
    record_many(
        db.session,
        [
            (created["id"], int((now - timedelta(minutes=minutes)).timestamp() * 1000), Result(ok, latency, cause))
            for minutes, ok, latency, cause in checks
        ],
    )
    db.session.commit()
    stats = client.get(f"/api/v1/monitors/{created['id']}", headers=auth_headers).json["stats"]
    assert stats["checks24h"] == 3
    assert stats["uptime24h"] == pytest.approx(66.667)
    assert stats["responseTimeAvgMs"] == 200.0
    assert stats["lastCause"] == "HTTP 503"


@pytest.mark.parametrize(
    ("check_type", "url"),
    [("http", "ftp://example.com/"), ("http", "not a url"), ("tcp", "db.internal"), ("ssl", "https://:443")],
)
def test_a_url_the_check_type_cannot_use_is_refused_when_saved(client, auth_headers, check_type, url):
    issues = issues_of(post(client, auth_headers, {**SITE, "type": check_type, "url": url}))
    assert ("url",) in issues


@pytest.mark.parametrize(
    ("check_type", "url"), [("http", "https://example.com/x?y=1"), ("tcp", "db.internal:5432"), ("ssl", "example.com")]
)
def test_a_url_the_check_type_can_use_is_accepted(client, auth_headers, check_type, url):
    assert post(client, auth_headers, {**SITE, "type": check_type, "url": url}).status_code == 201
