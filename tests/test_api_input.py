"""Bad input is a clear 4xx in the documented format, never a 500, and stores nothing.

The suite runs once per database, and these tests matter on both: PostgreSQL's text cannot
hold NUL, and the two keep and compare times differently.
"""

import base64
import http.client
import json
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from api_support import SITE, SLACK, create_monitor, stored
from sqlalchemy import event

from aloft.api.input_rules import (
    NOT_JSON_NUMBER,
    NUL_IN_KEY,
    NUL_IN_TEXT,
    OUT_OF_RANGE,
    SURROGATE_IN_KEY,
    SURROGATE_IN_TEXT,
    TOO_DEEP,
    TOO_MANY_DIGITS,
)
from aloft.api.paging import INVALID_CURSOR
from aloft.extensions import db

MIB = 1024 * 1024
TOO_LARGE = {"error": "Request body too large (limit 1 MiB)"}


@contextmanager
def parameters_sent():
    """The parameters of every SQL statement sent while the block runs, as text."""
    sent = []

    def record(connection, cursor, statement, parameters, context, executemany):
        sent.append(repr(parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def issues(response):
    assert response.status_code == 400, (response.status_code, response.json)
    assert response.json["error"] == "Validation failed"
    return response.json["issues"]


@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        ("get", "/api/v1/monitors/abc%00def", "Monitor not found"),
        ("delete", "/api/v1/monitors/%00", "Monitor not found"),
        ("get", "/api/v1/monitors/not-an-id/results", "Monitor not found"),
        ("get", "/api/v1/channels/%00", "Channel not found"),
        ("post", "/api/v1/channels/%00/test", "Channel not found"),
        ("get", "/api/v1/incidents/%00", "Incident not found"),
        ("post", "/api/v1/incidents/not-an-id/acknowledge", "Incident not found"),
        ("delete", "/api/v1/keys/%00", "API key not found"),
        ("delete", "/api/v1/keys/not-an-id", "API key not found"),
    ],
)
def test_an_id_that_is_no_uuid_is_404_and_never_reaches_the_database(client, auth_headers, method, path, message):
    client.get("/api/v1/status", headers=auth_headers)  # the key's first use is written now, not below
    with parameters_sent() as sent:
        response = getattr(client, method)(path, headers=auth_headers)
    assert response.status_code == 404
    assert response.json == {"error": message}
    assert not [parameters for parameters in sent if "\\x00" in parameters or "not-an-id" in parameters]


@pytest.mark.parametrize("name", ["monitorId", "since", "cursor", "status", "limit"])
def test_nul_in_a_query_parameter_is_400_naming_it(client, auth_headers, name):
    response = client.get(f"/api/v1/incidents?{name}=1%002", headers=auth_headers)
    assert issues(response) == [{"path": [name], "message": NUL_IN_TEXT}]


def test_nul_in_a_query_parameters_name_is_400_naming_it(client, auth_headers):
    response = client.get("/api/v1/monitors?li%00mit=2", headers=auth_headers)
    assert {"path": ["li\x00mit"], "message": NUL_IN_TEXT} in issues(response)


BAD_TEXT = [
    ("/api/v1/monitors", {**SITE, "name": "a{}b"}, ["name"]),
    ("/api/v1/monitors", {**SITE, "url": "https://example.com/{}"}, ["url"]),
    ("/api/v1/monitors", {**SITE, "settings": {"headers": {"X-Token": "{}"}}}, ["settings", "headers", "X-Token"]),
    ("/api/v1/monitors", {**SITE, "channelIds": ["{}"]}, ["channelIds", 0]),
    ("/api/v1/channels", {**SLACK, "name": "ops{}"}, ["name"]),
    ("/api/v1/channels", {**SLACK, "config": {"webhookUrl": "https://hooks.slack.com/{}"}}, ["config", "webhookUrl"]),
    ("/api/v1/keys", {"name": "deploy{}"}, ["name"]),
    ("/api/v1/keys", {"name": "deploy", "scopes": ["{}"]}, ["scopes", 0]),
]


@pytest.mark.parametrize(("character", "message"), [("\x00", NUL_IN_TEXT), ("\ud800", SURROGATE_IN_TEXT)])
@pytest.mark.parametrize(("path", "body", "where"), BAD_TEXT)
def test_nul_or_a_lone_surrogate_in_any_string_of_a_body_is_400_naming_it(
    client, auth_headers, path, body, where, character, message
):
    before = stored()
    text = json.dumps(body).replace("{}", json.dumps(character)[1:-1])
    response = client.post(path, data=text, content_type="application/json", headers=auth_headers)
    assert {"path": where, "message": message} in issues(response)
    assert stored() == before


@pytest.mark.parametrize(("character", "message"), [("\x00", NUL_IN_KEY), ("\ud800", SURROGATE_IN_KEY)])
def test_nul_or_a_lone_surrogate_in_a_key_is_400_naming_it(client, auth_headers, character, message):
    before = stored()
    response = client.post(
        "/api/v1/monitors", json={**SITE, "settings": {f"bo{character}dy": "x"}}, headers=auth_headers
    )
    assert issues(response) == [{"path": ["settings", f"bo{character}dy"], "message": message}]
    assert stored() == before


def test_edits_with_nul_change_nothing(client, auth_headers):
    monitor = create_monitor(client, auth_headers)
    before = stored()
    path = f"/api/v1/monitors/{monitor['id']}"
    assert issues(client.patch(path, json={"name": "x\x00"}, headers=auth_headers))
    assert issues(client.put(path, json={**SITE, "url": "https://example.com/\x00"}, headers=auth_headers))
    assert stored() == before


def nested(levels):
    value = []
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    "body",
    [
        "[" * 1000 + "]" * 1000,
        '{"a":' * 5000 + "1" + "}" * 5000,
        "[" * 100_000,  # not even JSON: refused for its depth before the parser would find out
        json.dumps({**SITE, "settings": {"body": nested(31)}}),  # 33 levels with the body and settings
    ],
)
def test_a_body_nested_deeper_than_32_levels_is_400_before_it_is_parsed(client, auth_headers, body):
    before = stored()
    response = client.post("/api/v1/monitors", data=body, content_type="application/json", headers=auth_headers)
    assert response.status_code == 400
    assert response.json == {"error": TOO_DEEP}
    assert stored() == before


def test_32_levels_reach_the_schema(client, auth_headers):
    response = client.post("/api/v1/monitors", json={**SITE, "settings": {"body": nested(30)}}, headers=auth_headers)
    assert issues(response) == [{"path": ["settings", "body"], "message": "Not a valid string."}]


def test_brackets_inside_strings_are_not_nesting(client, auth_headers):
    name = '[{"' * 60 + "\\" * 3
    assert create_monitor(client, auth_headers, name=name)["name"] == name


@pytest.mark.parametrize(
    ("number", "message"),
    [("NaN", NOT_JSON_NUMBER), ("-Infinity", NOT_JSON_NUMBER), ("1e999", OUT_OF_RANGE), ("9" * 5000, TOO_MANY_DIGITS)],
)
def test_numbers_that_are_not_json_or_fit_nothing_are_400(client, auth_headers, number, message):
    before = stored()
    body = json.dumps(SITE)[:-1] + f', "confirmationCount": {number}}}'
    response = client.post("/api/v1/monitors", data=body, content_type="application/json", headers=auth_headers)
    assert response.status_code == 400
    assert response.json == {"error": message}
    assert stored() == before


def test_a_whole_number_written_with_a_fraction_is_that_integer(client, auth_headers):
    monitor = create_monitor(client, auth_headers, confirmationCount=2.0, intervalSeconds=6e1, timeoutSeconds=5.00)
    assert (monitor["confirmationCount"], monitor["intervalSeconds"], monitor["timeoutSeconds"]) == (2, 60, 5)
    assert json.dumps(monitor["confirmationCount"]) == "2"
    heartbeat = create_monitor(client, auth_headers, type="heartbeat", url=None, settings={"graceSeconds": 90.0})
    assert heartbeat["settings"] == {"graceSeconds": 90}


def test_a_write_without_a_body_is_400(client, auth_headers):
    monitor = create_monitor(client, auth_headers)
    before = stored()
    for method, path in [("patch", f"/api/v1/monitors/{monitor['id']}"), ("post", "/api/v1/monitors")]:
        response = getattr(client, method)(path, headers=auth_headers)
        assert response.status_code == 400
        assert response.json == {"error": "Missing request body: send a JSON object."}
    assert stored() == before


@pytest.mark.parametrize("value", [2.5, True, "2", None, 1e300])
def test_anything_else_is_not_an_integer(client, auth_headers, value):
    response = client.post("/api/v1/monitors", json={**SITE, "confirmationCount": value}, headers=auth_headers)
    assert issues(response)[0]["path"] == ["confirmationCount"]


def cursor_of(text):
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.fixture
def list_paths(client, auth_headers):
    monitor = create_monitor(client, auth_headers)
    channel = client.post("/api/v1/channels", json=SLACK, headers=auth_headers).json["channel"]
    return [
        "/api/v1/monitors?limit=5&",
        "/api/v1/channels?limit=5&",
        "/api/v1/incidents?",
        f"/api/v1/monitors/{monitor['id']}/results?",
        f"/api/v1/channels/{channel['id']}/deliveries?",
    ]


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "zz",
        cursor_of("[" * 2500),
        cursor_of('["0001-01-01T00:00:00+14:00","x"]'),
        cursor_of('["9999-12-31T23:59:59-14:00","x"]'),
        "0" * 13,
        "0" * 15,
        "0" * 14 + "g" * 32,
        "F" * 14,
        "0" * 14 + "%0A",
    ],
)
def test_a_cursor_the_server_could_not_have_issued_is_400(client, auth_headers, list_paths, cursor):
    for path in list_paths:
        response = client.get(f"{path}cursor={cursor}", headers=auth_headers)
        assert issues(response) == [{"path": ["cursor"], "message": INVALID_CURSOR}], path


@pytest.mark.parametrize("cursor", ["0" * 14, "f" * 14, "0" * 46, "f" * 46])
def test_every_cursor_of_the_documented_form_is_a_page_even_at_the_ends_of_time(
    client, auth_headers, list_paths, cursor
):
    for path in list_paths:
        response = client.get(f"{path}cursor={cursor}", headers=auth_headers)
        assert response.status_code == 200, (path, response.json)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a b",
        "https://example.com/\r\nX-Injected: 1",
        "https://example.com/\n",
        "https://exa\tmple.com/",
        " https://example.com/",
        "https://example.com/\x7f",
        "https://example.com/\u00a0",
        "example.com:80 ",
    ],
)
def test_a_url_with_white_space_or_control_characters_is_400_and_not_stored(client, auth_headers, url):
    before = stored()
    for body in ({**SITE, "url": url}, {**SITE, "type": "tcp", "url": url}):
        response = client.post("/api/v1/monitors", json=body, headers=auth_headers)
        assert issues(response) == [
            {"path": ["url"], "message": "Must not contain spaces or control characters; percent-encode them."}
        ]
    assert stored() == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/monitors", {**SITE, "name": " \t\n"}),
        ("/api/v1/channels", {**SLACK, "name": "\u3000"}),
        ("/api/v1/keys", {"name": "   "}),
    ],
)
def test_a_name_of_only_white_space_is_400(client, auth_headers, path, body):
    before = stored()
    assert issues(client.post(path, json=body, headers=auth_headers)) == [
        {"path": ["name"], "message": "Must not be blank."}
    ]
    assert stored() == before


def test_a_new_monitor_and_channel_were_created_and_updated_at_the_same_instant(client, auth_headers):
    monitor = create_monitor(client, auth_headers)
    channel = client.post("/api/v1/channels", json=SLACK, headers=auth_headers).json["channel"]
    assert monitor["createdAt"] == monitor["updatedAt"]
    assert channel["createdAt"] == channel["updatedAt"]


def post_chunked(base_url, path, body, headers):
    """POST ``body`` with ``Transfer-Encoding: chunked`` (no Content-Length), over a real socket."""
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    chunks = (body[start : start + 65536] for start in range(0, len(body), 65536))
    connection.request("POST", path, body=chunks, headers=headers, encode_chunked=True)
    response = connection.getresponse()
    answer = (response.status, json.loads(response.read()))
    connection.close()
    return answer


def test_a_chunked_body_over_one_mebibyte_is_413_not_a_truncated_body(live_url, auth_headers):
    headers = {**auth_headers, "Content-Type": "application/json"}
    before = stored()
    over = json.dumps({**SITE, "name": "x" * MIB}).encode()
    assert post_chunked(live_url, "/api/v1/monitors", over, headers) == (413, TOO_LARGE)
    assert stored() == before
    status, answer = post_chunked(live_url, "/api/v1/monitors", json.dumps(SITE).encode(), headers)
    assert status == 201, answer


def test_a_chunked_ping_over_one_mebibyte_is_413(live_url, client, auth_headers):
    monitor = create_monitor(client, auth_headers, type="heartbeat", url=None)
    ping_path = urlsplit(monitor["pingUrl"]).path
    before = stored()
    assert post_chunked(live_url, ping_path, b"x" * (MIB + 100), {}) == (413, TOO_LARGE)
    assert stored() == before
    assert post_chunked(live_url, ping_path, b"backup done", {}) == (200, {"ok": True})
