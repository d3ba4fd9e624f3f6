"""Heartbeat monitors through the API: a secret ping URL, no url needed, graceSeconds validated."""

import pytest
from heartbeat_support import HEARTBEAT, create_heartbeat, ping_path, token_of

from aloft.testing import issue_key

TOKEN_ALPHABET = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_a_heartbeat_monitor_gets_a_ping_url_with_an_unguessable_token(client, auth_headers, heartbeat):
    assert heartbeat["pingUrl"].startswith("http://localhost:8000/heartbeat/")
    token = token_of(heartbeat)
    assert set(token) <= TOKEN_ALPHABET and len(token) * 6 >= 128
    other = create_heartbeat(client, auth_headers, name="Other job")
    assert token_of(other) != token
    assert heartbeat["url"] is None and heartbeat["settings"] == {"graceSeconds": 60}


def test_only_keys_that_can_write_monitors_see_the_ping_url(client, app, org, heartbeat):
    _, reader = issue_key(app, org, "dashboard", scopes=["monitors:read"])
    listed = client.get("/api/v1/monitors", headers={"Authorization": f"Bearer {reader}"})
    one = client.get(f"/api/v1/monitors/{heartbeat['id']}", headers={"Authorization": f"Bearer {reader}"})
    assert listed.status_code == one.status_code == 200
    assert listed.json["monitors"][0]["id"] == one.json["monitor"]["id"] == heartbeat["id"]
    assert "pingUrl" not in listed.json["monitors"][0] and "pingUrl" not in one.json["monitor"]
    assert token_of(heartbeat) not in listed.get_data(as_text=True) + one.get_data(as_text=True)
    _, editor = issue_key(app, org, "editor", scopes=["monitors:read", "monitors:write"])
    shown = client.get(f"/api/v1/monitors/{heartbeat['id']}", headers={"Authorization": f"Bearer {editor}"})
    assert shown.json["monitor"]["pingUrl"] == heartbeat["pingUrl"]


def test_a_monitor_that_reaches_out_has_no_ping_url(client, auth_headers):
    body = {"name": "My site", "type": "http", "url": "https://example.com"}
    response = client.post("/api/v1/monitors", json=body, headers=auth_headers)
    assert response.json["monitor"]["pingUrl"] is None


def test_the_ping_url_is_read_only_and_survives_a_get_edit_put_round_trip(client, auth_headers, heartbeat):
    edited = {**heartbeat, "name": "Renamed", "pingUrl": "http://evil.example/heartbeat/mine"}
    response = client.put(f"/api/v1/monitors/{heartbeat['id']}", json=edited, headers=auth_headers)
    assert response.status_code == 200, response.json
    assert response.json["monitor"]["pingUrl"] == heartbeat["pingUrl"]


def test_changing_the_type_away_revokes_the_ping_url_and_changing_back_issues_a_new_one(
    client, auth_headers, heartbeat
):
    url = f"/api/v1/monitors/{heartbeat['id']}"
    to_http = client.patch(url, json={"type": "http", "url": "https://example.com"}, headers=auth_headers)
    assert to_http.json["monitor"]["pingUrl"] is None
    assert client.get(ping_path(heartbeat)).status_code == 404
    back = client.patch(url, json={"type": "heartbeat", "url": None}, headers=auth_headers).json["monitor"]
    assert back["pingUrl"] is not None and back["pingUrl"] != heartbeat["pingUrl"]
    assert client.get(ping_path(back)).status_code == 200


@pytest.mark.parametrize(("grace", "accepted"), [(0, True), (86400, True), (-1, False), (86401, False), ("60", False)])
def test_grace_seconds_is_a_whole_number_from_0_to_86400(client, auth_headers, grace, accepted):
    body = {**HEARTBEAT, "settings": {"graceSeconds": grace}}
    response = client.post("/api/v1/monitors", json=body, headers=auth_headers)
    if accepted:
        assert response.status_code == 201, response.json
        assert response.json["monitor"]["settings"] == {"graceSeconds": grace}
    else:
        assert response.status_code == 400
        assert [issue["path"] for issue in response.json["issues"]] == [["settings", "graceSeconds"]]


def test_unknown_settings_are_rejected(client, auth_headers):
    response = client.post("/api/v1/monitors", json={**HEARTBEAT, "settings": {"grace": 5}}, headers=auth_headers)
    assert response.status_code == 400
    assert [issue["path"] for issue in response.json["issues"]] == [["settings", "grace"]]
