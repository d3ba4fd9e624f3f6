"""The OpenAPI document describes every endpoint, its security and its real error bodies."""

import json
import re

import pytest

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
        if blueprint.scope_family is None:
            assert operation["security"] == []
            continue
        assert operation["security"] == [{"bearerAuth": []}]
        assert {"401", "403", "429"} <= set(operation["responses"]), f"{method.upper()} {path}"
        assert operation["description"].startswith("Needs scope `")


def test_errors_are_documented_with_the_real_body_not_flask_smorests(spec):
    text = json.dumps(spec)
    assert '"422"' not in text and "UNPROCESSABLE" not in text
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert set(error["properties"]) == {"error", "issues"}
    assert spec["components"]["responses"]["BAD_REQUEST"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


def test_monitor_input_documents_its_bounds(spec):
    properties = spec["components"]["schemas"]["MonitorInput"]["properties"]
    assert (properties["intervalSeconds"]["minimum"], properties["intervalSeconds"]["maximum"]) == (10, 86400)
    assert (properties["confirmationCount"]["minimum"], properties["confirmationCount"]["maximum"]) == (1, 10)
    assert (properties["timeoutSeconds"]["minimum"], properties["timeoutSeconds"]["maximum"]) == (1, 60)
    assert set(spec["components"]["schemas"]["MonitorInput"]["required"]) == {"name", "type"}
