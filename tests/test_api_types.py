"""``/api/v1/check-types`` and ``/api/v1/channel-types``: each type, its origin, and its settings as JSON Schema."""

import importlib.metadata

import pytest
from api_support import bearer
from jsonschema import Draft202012Validator

from aloft.app import create_app
from aloft.testing import issue_key, make_settings


def by_name(entries):
    return {entry["name"]: entry for entry in entries}


def test_check_types_lists_each_installed_type_with_where_it_comes_from(app, client, auth_headers):
    response = client.get("/api/v1/check-types", headers=auth_headers)
    assert response.status_code == 200
    types = by_name(response.json["checkTypes"])
    assert list(types) == sorted(app.extensions["aloft.plugins"].check_types)
    http = types["http"]
    assert (http["requiresUrl"], http["passive"]) == (True, False)
    assert (http["distribution"], http["version"]) == ("aloft-http", importlib.metadata.version("aloft-http"))
    assert http["description"]
    assert (types["heartbeat"]["requiresUrl"], types["heartbeat"]["passive"]) == (False, True)


def test_a_check_types_settings_schema_states_types_defaults_ranges_and_descriptions(client, auth_headers):
    types = by_name(client.get("/api/v1/check-types", headers=auth_headers).json["checkTypes"])
    http = types["http"]["settingsSchema"]
    assert http["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert http["title"] == "http" and http["additionalProperties"] is False
    codes = http["properties"]["expectedStatusCodes"]
    assert codes["type"] == "array" and codes["default"] == ["200-399"] and "inclusive ranges" in codes["description"]
    assert http["properties"]["method"]["enum"][0] == "GET"
    ssl_days = types["ssl"]["settingsSchema"]["properties"]["expiryThresholdDays"]
    assert (ssl_days["type"], ssl_days["minimum"], ssl_days["maximum"], ssl_days["default"]) == ("integer", 0, 365, 14)
    assert types["tcp"]["settingsSchema"]["properties"] == {}


def test_a_settings_schema_takes_what_the_api_takes_and_refuses_what_it_refuses(client, auth_headers):
    types = by_name(client.get("/api/v1/check-types", headers=auth_headers).json["checkTypes"])
    validator = Draft202012Validator(types["http"]["settingsSchema"])
    good = {"method": "HEAD", "expectedStatusCodes": [204, "200-299"], "keyword": "ok"}
    bad = {"method": "FETCH", "expectedStatusCode": [200]}
    assert validator.is_valid(good) and not validator.is_valid(bad)
    for settings, status in ((good, 201), (bad, 400)):
        monitor = {"name": "site", "type": "http", "url": "https://example.com", "settings": settings}
        assert client.post("/api/v1/monitors", json=monitor, headers=auth_headers).status_code == status
    tcp = Draft202012Validator(types["tcp"]["settingsSchema"])
    assert tcp.is_valid({}) and not tcp.is_valid({"anything": 1})


def test_channel_types_mark_secret_fields_and_say_which_the_server_cannot_send(tmp_path, aloft_database_url, org):
    app = create_app(make_settings(tmp_path, aloft_database_url, ALOFT_CHANNELS="slack,email,pagerduty"))
    _, token = issue_key(app, org)
    with app.app_context():
        response = app.test_client().get("/api/v1/channel-types", headers=bearer(token))
    assert response.status_code == 200
    types = by_name(response.json["channelTypes"])
    assert list(types) == ["email", "pagerduty", "slack"]
    slack = types["slack"]
    assert slack["secretFields"] == ["webhookUrl"] and slack["available"] is True and slack["problem"] is None
    assert slack["distribution"] == "aloft-slack"
    config = slack["configSchema"]
    assert config["required"] == ["webhookUrl"] and config["properties"]["webhookUrl"]["x-secret"] is True
    pagerduty = types["pagerduty"]["configSchema"]["properties"]
    assert pagerduty["routingKey"]["x-secret"] is True and "x-secret" not in pagerduty["severity"]
    assert pagerduty["severity"]["default"] == "critical"
    email = types["email"]
    assert email["available"] is False and "ALOFT_SMTP_HOST" in email["problem"]


def test_channel_types_lists_only_the_types_the_server_enabled(tmp_path, aloft_database_url, org):
    app = create_app(make_settings(tmp_path, aloft_database_url, ALOFT_CHANNELS="slack"))
    _, token = issue_key(app, org)
    with app.app_context():
        listed = app.test_client().get("/api/v1/channel-types", headers=bearer(token)).json["channelTypes"]
    assert [entry["name"] for entry in listed] == ["slack"]


@pytest.mark.parametrize("path", ["/api/v1/check-types", "/api/v1/channel-types"])
def test_any_valid_key_may_read_the_types_and_no_key_may_not(app, client, org, path):
    _, token = issue_key(app, org, "no scopes", scopes=[])
    assert client.get(path, headers=bearer(token)).status_code == 200
    refused = client.get(path)
    assert refused.status_code == 401 and refused.json == {
        "error": "Missing or malformed Authorization header. Expected 'Bearer <token>'."
    }
    assert client.get(path, headers=bearer("ur_" + "x" * 24)).status_code == 401


def test_the_openapi_document_describes_the_type_lists(client):
    spec = client.get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/check-types"]["get"]
    assert (
        operation["security"] == [{"bearerAuth": []}, {"browserSession": [], "csrfToken": []}]
        and "403" not in operation["responses"]
    )
    assert operation["description"].startswith("Needs any valid API key")
    assert "settingsSchema" in spec["components"]["schemas"]["CheckType"]["required"]
    assert "configSchema" in spec["components"]["schemas"]["ChannelType"]["required"]
