"""Rate limits: one count per caller across every route and every web worker, in a moving window.

Two app instances on one database and one data dir stand in for two gunicorn workers (the
real processes are in ``test_ratelimit_processes.py``). Every test runs twice: with the
counts in the data dir's file (no Redis), and in a Redis server of the test's own.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

import pytest
from api_support import bearer
from flask.testing import FlaskClient

from aloft.app import create_app
from aloft.testing import RedisServer, issue_key, make_settings


class Clock:
    """A clock a test moves by hand (seconds since the epoch)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["data dir", "redis"])
def counted_in(request, tmp_path) -> dict[str, str]:
    """The variables that put the counts in the data dir's file, or in a Redis of the test's own."""
    if request.param == "data dir":
        return {}
    server: RedisServer = request.getfixturevalue("own_redis")
    return {"ALOFT_REDIS_URL": server.url}


@pytest.fixture
def workers(app, tmp_path, aloft_database_url, counted_in) -> Callable[..., list[FlaskClient]]:
    """``workers(count, **variables)``: clients of ``count`` apps sharing the database and the data dir."""

    def start(count: int = 2, **variables: str) -> list[FlaskClient]:
        settings = make_settings(tmp_path / "data", aloft_database_url, **counted_in, **variables)
        return [create_app(settings).test_client() for _ in range(count)]

    return start


def set_clock(clients: list[FlaskClient], clock: Clock) -> None:
    for client in clients:
        (limiter,) = client.application.extensions["limiter"]
        limiter.storage.clock = clock


def remaining(response) -> int:
    return int(response.headers["X-RateLimit-Remaining"])


def client_address() -> dict[str, str]:
    """A client IP of the test's own."""
    return {"REMOTE_ADDR": f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"}


def test_every_route_draws_on_one_count_per_key(app, org, workers):
    _, token = issue_key(app, org, "busy")
    (client,) = workers(1)
    counts = [
        remaining(client.get(path, headers=bearer(token)))
        for path in ("/api/v1/status", "/api/v1/monitors", "/api/v1/keys", "/api/v1/incidents", "/api/v1/channels")
    ]
    assert counts == [599, 598, 597, 596, 595]


def test_exactly_the_limit_passes_across_workers_and_routes_then_429(app, org, workers):
    _, token = issue_key(app, org, "busy")
    first, second = workers(ALOFT_RATE_LIMIT="10")
    paths = ["/api/v1/status", "/api/v1/monitors", "/api/v1/keys"]
    responses = [(first, second)[i % 2].get(paths[i % 3], headers=bearer(token)) for i in range(12)]
    assert [response.status_code for response in responses] == [200] * 10 + [429] * 2
    assert [remaining(response) for response in responses] == [*range(9, -1, -1), 0, 0]
    assert {response.headers["X-RateLimit-Limit"] for response in responses} == {"10"}
    limited = responses[-1]
    assert limited.json == {"error": "Rate limit exceeded"}
    assert int(limited.headers["Retry-After"]) > 0


def test_each_key_has_its_own_count(app, org, workers):
    _, one = issue_key(app, org, "one")
    _, two = issue_key(app, org, "two")
    first, second = workers()
    first.get("/api/v1/status", headers=bearer(one))
    assert remaining(second.get("/api/v1/status", headers=bearer(two))) == 599


def test_refused_requests_count_and_carry_the_headers_and_only_a_429_says_retry_after(app, org, workers):
    _, token = issue_key(app, org, "monitors only", scopes=["monitors:read", "monitors:write"])
    (client,) = workers(1, ALOFT_RATE_LIMIT="7")
    auth = bearer(token)
    answers = [
        client.get("/api/v1/monitors", headers=auth),
        client.get("/api/v1/keys", headers=auth),  # 403: no api-keys:read
        client.get("/api/v1/monitors/00000000-0000-0000-0000-000000000000", headers=auth),
        client.get("/api/v1/no-such-resource", headers=auth),
        client.delete("/api/v1/status", headers=auth),
        client.post("/api/v1/monitors", headers=auth, data="x" * (1024 * 1024 + 1), content_type="application/json"),
        client.post("/api/v1/monitors", headers=auth, json={}),
        client.get("/api/v1/monitors", headers=auth),
    ]
    assert [response.status_code for response in answers] == [200, 403, 404, 404, 405, 413, 400, 429]
    for response in answers:
        assert response.headers["X-RateLimit-Limit"] == "7", response.status_code
        assert int(response.headers["X-RateLimit-Reset"]) > time.time(), response.status_code
    assert [remaining(response) for response in answers] == [6, 5, 4, 3, 2, 1, 0, 0]
    assert ["Retry-After" in response.headers for response in answers] == [False] * 7 + [True]


def test_callers_without_a_valid_key_get_20_a_minute_per_ip_on_any_path(workers):
    first, second = workers()
    address = client_address()
    requests = [
        lambda client: client.get("/api/v1/monitors", environ_base=address),  # 401
        lambda client: client.get("/api/v1/keys", headers=bearer("ur_" + "0" * 24), environ_base=address),  # 401
        lambda client: client.get("/api/v1/nothing-here", environ_base=address),  # 404
        lambda client: client.delete("/api/v1/status", environ_base=address),  # 405
    ]
    codes = [requests[i % 4]((first, second)[i % 2]).status_code for i in range(21)]
    assert codes == [401, 401, 404, 405] * 5 + [429]
    assert first.get("/api/v1/monitors", environ_base=client_address()).status_code == 401, "another IP"


def test_health_ready_and_the_docs_are_never_limited(workers):
    (client,) = workers(1)
    address = client_address()
    for _ in range(21):
        client.get("/api/v1/monitors", environ_base=address)
    for path in ("/api/v1/health", "/api/v1/ready", "/api/v1/openapi.json", "/api/v1/docs", "/api/v1/redoc"):
        response = client.get(path, environ_base=address)
        assert response.status_code == 200, path
        assert "X-RateLimit-Limit" not in response.headers, path


def test_never_more_than_the_limit_in_any_60_seconds_across_a_window_edge(app, org, workers):
    _, token = issue_key(app, org, "edgy")
    first, second = workers(ALOFT_RATE_LIMIT="3")
    # t0 + 59 and t0 + 60.5 straddle a whole minute, where a fixed window would start afresh.
    t0 = (int(time.time()) // 60 + 2) * 60 - 59.5
    clock = Clock(t0)
    set_clock([first, second], clock)
    passed: list[float] = []

    def send(at: float, count: int) -> list[int]:
        clock.now = at
        codes = [(first, second)[i % 2].get("/api/v1/status", headers=bearer(token)).status_code for i in range(count)]
        passed.extend([at] * codes.count(200))
        return codes

    assert send(t0, 1) == [200]
    assert send(t0 + 59, 3) == [200, 200, 429]
    assert send(t0 + 60.5, 3) == [200, 429, 429], "only the first request has left the window"
    assert send(t0 + 119.5, 3) == [200, 200, 429], "the two of t0 + 59 have left it"
    for at in passed:
        assert sum(at - 60 < other <= at for other in passed) <= 3


def test_reset_is_when_the_oldest_counted_request_leaves_the_window(app, org, workers):
    _, token = issue_key(app, org, "patient")
    (client,) = workers(1, ALOFT_RATE_LIMIT="2")
    clock = Clock(2_000_000_000.25)
    set_clock([client], clock)
    first = client.get("/api/v1/status", headers=bearer(token))
    clock.now += 20
    second = client.get("/api/v1/status", headers=bearer(token))
    clock.now += 10
    limited = client.get("/api/v1/status", headers=bearer(token))
    # The first request leaves the window at 2_000_000_060.25: the first whole second after that.
    assert [r.headers["X-RateLimit-Reset"] for r in (first, second, limited)] == ["2000000061"] * 3
    assert limited.status_code == 429
    clock.now = 2_000_000_060.5
    again = client.get("/api/v1/status", headers=bearer(token))
    assert again.status_code == 200
    assert again.headers["X-RateLimit-Reset"] == "2000000081", "now the second request is the oldest"
