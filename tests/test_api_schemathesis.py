"""Schemathesis over the whole OpenAPI document: no 5xx, every response as documented.

Derandomized: the same requests on every run, so a red run is a regression, not bad luck.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from aloft.app import create_app
from aloft.extensions import db
from aloft.keys import hash_token
from aloft.models import ApiKey
from aloft.testing import TEST_SECRET_KEY, make_settings

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
TOKEN = "ur_schemathesis000000000000"


@pytest.fixture
def api_schema(tmp_path, aloft_database_url, app, org, client, auth_headers):
    # A generous limit: this test sends thousands of requests with one key.
    fuzzed = create_app(make_settings(tmp_path, aloft_database_url, ALOFT_RATE_LIMIT="1000000"))
    db.session.add(
        ApiKey(
            org_id=org.id,
            name="schemathesis",
            prefix=TOKEN[:12],
            token_hash=hash_token(TEST_SECRET_KEY, TOKEN),
            minted_by_operator=True,
        )
    )
    db.session.commit()
    client.post(
        "/api/v1/monitors", json={"name": "seed", "type": "http", "url": "https://example.com"}, headers=auth_headers
    )
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzzed)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_the_api_matches_its_openapi_document(case):
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {TOKEN}"}
    response = case.call_and_validate(checks=CHECKS)
    if case.operation.path not in ("/api/v1/health", "/api/v1/ready"):
        assert response.status_code != 401, (case.headers, response.text)
