"""Rate limits shared through real Redis by two app instances, as two gunicorn workers would."""

import secrets

import pytest
from api_support import bearer

from aloft.app import create_app
from aloft.redis_connection import connect
from aloft.testing import issue_key, make_settings


@pytest.fixture
def two_workers(tmp_path, aloft_database_url, redis_url):
    connection = connect(redis_url)
    for name in connection.scan_iter("aloft*"):
        connection.delete(name)
    settings = make_settings(tmp_path, aloft_database_url, ALOFT_REDIS_URL=redis_url)
    yield create_app(settings).test_client(), create_app(settings).test_client()
    for name in connection.scan_iter("aloft*"):
        connection.delete(name)


def test_exactly_600_requests_a_minute_across_workers_and_the_601st_is_429(app, org, two_workers):
    _, token = issue_key(app, org, "busy")
    first, second = two_workers
    remaining = []
    for index in range(600):
        response = (first if index % 2 else second).get("/api/v1/status", headers=bearer(token))
        assert response.status_code == 200, (index, response.json)
        assert response.headers["X-RateLimit-Limit"] == "600"
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
    assert remaining == list(range(599, -1, -1))
    for client in (first, second):
        response = client.get("/api/v1/status", headers=bearer(token))
        assert response.status_code == 429
        assert response.json == {"error": "Rate limit exceeded"}
        assert int(response.headers["Retry-After"]) > 0


def test_each_key_has_its_own_budget(app, org, two_workers):
    first, _ = two_workers
    _, one = issue_key(app, org, "one")
    _, two = issue_key(app, org, "two")
    first.get("/api/v1/status", headers=bearer(one))
    response = first.get("/api/v1/status", headers=bearer(two))
    assert response.headers["X-RateLimit-Remaining"] == "599"


def random_ip() -> str:
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def test_unauthenticated_requests_are_limited_per_ip_at_20(two_workers):
    first, second = two_workers
    # A client address of its own, so no other run sharing this Redis touches its bucket.
    client_ip = {"REMOTE_ADDR": random_ip()}
    codes = [
        (first if i % 2 else second).get("/api/v1/monitors", environ_base=client_ip).status_code for i in range(21)
    ]
    assert codes == [401] * 20 + [429]
    assert first.get("/api/v1/monitors", environ_base={"REMOTE_ADDR": random_ip()}).status_code == 401, "per IP"
    assert first.get("/api/v1/health", environ_base=client_ip).status_code == 200, "probes are never limited"
