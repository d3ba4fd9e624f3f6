"""The OpenAPI document describes every endpoint, its security and its real error bodies."""

import json
import re

import marshmallow as ma
import pytest
from api_support import operations
from hypothesis import given, settings
from hypothesis import strategies as st

from aloft.api.fields import NOT_BLANK_PATTERN, URL_TEXT_PATTERN, Id, Name, Url
from aloft.api.paging import CURSOR_PATTERN, Cursor
from aloft.app import create_app
from aloft.models import ID_PATTERN
from aloft.testing import make_settings

UNDOCUMENTED = {"/api/v1/openapi.json"}


@pytest.fixture
def spec(client):
    return client.get("/api/v1/openapi.json").json


def api_routes(app):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule in UNDOCUMENTED:
            continue
        blueprint = app.blueprints.get(rule.endpoint.split(".")[0])
        if blueprint is None or not hasattr(blueprint, "scope_family"):
            continue  # not a flask-smorest resource (the docs pages)
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            yield path, method.lower(), blueprint


def test_it_is_openapi_3_1_with_a_bearer_scheme(spec):
    assert spec["openapi"].startswith("3.1")
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key: `ur_` + 24 characters.",
    }


def test_every_endpoint_is_documented(app, spec):
    for path, method, _ in api_routes(app):
        assert method in spec["paths"].get(path, {}), f"{method.upper()} {path} is missing"


def test_authenticated_operations_say_how_they_refuse(app, spec):
    for path, method, blueprint in api_routes(app):
        operation = spec["paths"][path][method]
        if not blueprint.needs_key:
            assert operation["security"] == []
            continue
        assert operation["security"] == [{"bearerAuth": []}, {"browserSession": [], "csrfToken": []}]
        if blueprint.scope_family is None:  # any valid key
            assert {"401", "429"} <= set(operation["responses"]), f"{method.upper()} {path}"
            assert operation["description"].startswith("Needs any valid API key")
            continue
        assert {"401", "403", "429"} <= set(operation["responses"]), f"{method.upper()} {path}"
        needs = (
            "Needs scope `" if blueprint.scope_family else "Needs an API key (or a signed-in browser), of any scope."
        )
        assert operation["description"].startswith(needs)


def test_errors_are_documented_with_the_real_body_not_flask_smorests(spec):
    text = json.dumps(spec)
    assert '"422"' not in text and "UNPROCESSABLE" not in text
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert set(error["properties"]) == {"error", "issues"}
    assert spec["components"]["responses"]["BAD_REQUEST"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


def variants(spec, name):
    """The variants of a component described per type, by type name."""
    schemas = spec["components"]["schemas"]
    mapping = schemas[name]["discriminator"]["mapping"]
    assert schemas[name]["oneOf"] == [{"$ref": reference} for reference in mapping.values()]
    return {type_name: schemas[reference.rsplit("/", 1)[1]] for type_name, reference in mapping.items()}


def test_monitor_input_documents_its_bounds(spec):
    for variant in variants(spec, "MonitorInput").values():
        properties = variant["properties"]
        assert (properties["intervalSeconds"]["minimum"], properties["intervalSeconds"]["maximum"]) == (10, 86400)
        assert (properties["confirmationCount"]["minimum"], properties["confirmationCount"]["maximum"]) == (1, 10)
        assert (properties["timeoutSeconds"]["minimum"], properties["timeoutSeconds"]["maximum"]) == (1, 60)
        assert {"name", "type"} <= set(variant["required"])


def test_the_type_enums_are_the_types_this_server_offers(tmp_path, aloft_database_url):
    # email is enabled but cannot send (no ALOFT_SMTP_HOST): a channel cannot have it, so it is not offered.
    app = create_app(
        make_settings(tmp_path, aloft_database_url, ALOFT_CHANNELS="slack,email", ALOFT_PLUGINS_DISABLED="aloft_ssl")
    )
    spec = app.test_client().get("/api/v1/openapi.json").json
    schemas = spec["components"]["schemas"]
    check_types = sorted(app.extensions["aloft.plugins"].check_types)
    assert list(variants(spec, "MonitorInput")) == check_types and "ssl" not in check_types
    assert schemas["MonitorPatch"]["properties"]["type"]["enum"] == check_types
    assert list(variants(spec, "ChannelInput")) == ["slack"]
    assert schemas["ChannelPatch"]["properties"]["type"]["enum"] == ["slack"]


def test_each_type_is_a_variant_with_its_settings_and_says_whether_it_needs_a_url(spec):
    schemas = spec["components"]["schemas"]
    monitors = variants(spec, "MonitorInput")
    assert {name: variant["properties"]["type"]["const"] for name, variant in monitors.items()} == {
        name: name for name in monitors
    }
    assert schemas["MonitorInput"]["discriminator"]["propertyName"] == "type"
    assert "url" in monitors["http"]["required"] and "url" not in monitors["heartbeat"]["required"]
    assert (
        monitors["http"]["properties"]["url"]["type"] == "string"
        and "default" not in monitors["http"]["properties"]["url"]
    )
    assert monitors["heartbeat"]["properties"]["url"]["type"] == ["string", "null"]
    assert monitors["http"]["properties"]["settings"] == {"$ref": "#/components/schemas/Settings.http"}
    assert monitors["tcp"]["properties"]["settings"] == {"type": "object", "maxProperties": 0}
    assert monitors["http"]["additionalProperties"] is False
    http = schemas["Settings.http"]
    assert http["additionalProperties"] is False and http["properties"]["method"]["enum"][0] == "GET"
    assert http["properties"]["expectedStatusCodes"]["default"] == ["200-399"]
    slack = variants(spec, "ChannelInput")["slack"]
    assert slack["properties"]["config"] == {"$ref": "#/components/schemas/Config.slack"}
    assert slack["required"] == ["name", "type", "config"]
    assert schemas["Config.slack"]["required"] == ["webhookUrl"]


def test_the_type_variants_validate_what_the_api_takes(client, auth_headers, spec):
    """A JSON Schema validator reading the document agrees with the API on a monitor of each kind."""
    from jsonschema import Draft202012Validator

    document = {**spec["components"]["schemas"]["MonitorInput"], "components": spec["components"]}
    validator = Draft202012Validator(document)
    good = {"name": "site", "type": "http", "url": "https://example.com", "settings": {"method": "HEAD"}}
    for monitor, status in (
        (good, 201),
        ({**good, "settings": {"method": "FETCH"}}, 400),
        ({**good, "type": "heartbeat", "url": None, "settings": {"graceSeconds": 5}}, 201),
        ({"name": "no url", "type": "tcp"}, 400),
        ({**good, "type": "tcp", "url": "example.com:443", "settings": {"method": "GET"}}, 400),
    ):
        assert validator.is_valid(monitor) == (status == 201), monitor
        assert client.post("/api/v1/monitors", json=monitor, headers=auth_headers).status_code == status, monitor


def test_every_string_a_client_sends_says_what_it_may_hold(spec):
    for method, path, parameters, body in operations(spec):
        for parameter in parameters:
            rule = parameter["schema"]
            if parameter["in"] == "path":
                assert rule["format"] == "uuid" and rule["pattern"] == ID_PATTERN, (path, parameter)
            elif rule["type"] == "string":
                assert {"pattern", "enum", "format"} & rule.keys(), (method, path, parameter)
        for field, rule in [item for schema in bodies(spec, body) for item in schema.get("properties", {}).items()]:
            if "string" in rule.get("type", []):
                assert {"pattern", "enum", "format", "const"} & rule.keys(), (method, path, field)


def bodies(spec, body):
    """A request body's schema, or each of its variants."""
    if body is None:
        return []
    references = [variant["$ref"] for variant in body.get("oneOf", [])]
    return [spec["components"]["schemas"][reference.rsplit("/", 1)[1]] for reference in references] or [body]


CHARACTERS = st.one_of(st.characters(), st.sampled_from(" \t\n\r\x00\x85\xa0\u2028\ufeff\x1c-:/"))


@settings(max_examples=300, derandomize=True, database=None)
@given(text=st.text(alphabet=CHARACTERS, max_size=12))
def test_the_documented_patterns_take_exactly_what_the_server_takes(text):
    """Patterns are read by Python here; they spell their classes out so that ECMA-262 reads them alike."""

    def takes(field):
        try:
            field.deserialize(text)
        except ma.ValidationError:
            return False
        return True

    assert takes(Url()) == (len(text) > 0 and re.fullmatch(URL_TEXT_PATTERN, text) is not None)
    assert takes(Cursor()) == (re.fullmatch(CURSOR_PATTERN, text) is not None)
    assert takes(Id()) == (re.fullmatch(ID_PATTERN, text) is not None)
    if "\x00" not in text:  # NUL never reaches a field: the edge refuses it
        assert takes(Name()) == (re.search(NOT_BLANK_PATTERN, text) is not None)


def test_a_browser_session_is_documented_only_together_with_its_csrf_token(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["browserSession"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "aloft_session",
        "description": "A signed-in browser's session (set by `/signin`); counts only with `csrfToken`.",
    }
    assert schemes["csrfToken"]["in"] == "header" and schemes["csrfToken"]["name"] == "X-CSRFToken"
    secured = [
        op for item in spec["paths"].values() for op in item.values() if isinstance(op, dict) and op.get("security")
    ]
    assert secured and all({"browserSession": []} not in op["security"] for op in secured)
