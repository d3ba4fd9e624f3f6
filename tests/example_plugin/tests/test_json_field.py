"""The json-field check type as Aloft runs it: monitors made through the API, checks run by the engine."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

# Every test starts under the default target policy and the system resolver.
pytestmark = pytest.mark.usefixtures("resolve_as")

ANSWERS = {
    "/health": (200, {"status": "ok", "checks": [{"name": "db", "up": True}]}),
    "/degraded": (503, {"status": "degraded"}),
    "/text": (200, "all good"),
}


class Health(BaseHTTPRequestHandler):
    """Answers each path in ANSWERS with its status and body (as JSON, except a str)."""

    def do_GET(self) -> None:
        status, answer = ANSWERS.get(self.path, (404, {"error": "not found"}))
        body = (answer if isinstance(answer, str) else json.dumps(answer)).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def watch(make_monitor, url, **settings):
    """A json-field monitor that turns down on its first failure."""
    return make_monitor("json-field", url=url, confirmationCount=1, settings=settings)


def test_a_monitor_is_stored_with_its_settings_and_their_defaults(make_monitor, server):
    monitor = watch(make_monitor, f"{server}/health", field="status", equals="ok")
    assert monitor["settings"] == {"field": "status", "equals": "ok", "ignoreStatus": False}


def test_missing_and_unknown_settings_are_refused_with_their_paths(client, auth_headers, server):
    monitor = {"name": "API", "type": "json-field", "url": f"{server}/health", "settings": {"feild": "status"}}
    response = client.post("/api/v1/monitors", json=monitor, headers=auth_headers)
    assert response.status_code == 400
    assert {tuple(issue["path"]) for issue in response.json["issues"]} == {
        ("settings", "field"),
        ("settings", "equals"),
        ("settings", "feild"),
    }


def test_a_field_path_with_an_empty_key_is_refused(client, auth_headers, server):
    settings = {"field": "checks..up", "equals": True}
    monitor = {"name": "API", "type": "json-field", "url": f"{server}/health", "settings": settings}
    response = client.post("/api/v1/monitors", json=monitor, headers=auth_headers)
    assert response.status_code == 400
    (issue,) = response.json["issues"]
    assert issue["path"] == ["settings", "field"]
    assert issue["message"] == 'Must be keys joined by dots, such as "status" or "checks.0.status".'


def test_a_field_with_the_expected_value_is_up(make_monitor, run_check, server):
    monitor = watch(make_monitor, f"{server}/health", field="status", equals="ok")
    run = run_check(monitor["id"])
    assert run.result.ok and run.result.cause is None
    assert run.result.details == {"statusCode": 200}
    assert run.status == "up"


def test_list_indexes_reach_into_arrays(make_monitor, run_check, server):
    monitor = watch(make_monitor, f"{server}/health", field="checks.0.up", equals=True)
    assert run_check(monitor["id"]).status == "up"


def test_another_value_is_down_and_the_cause_shows_both(make_monitor, run_check, server):
    monitor = watch(make_monitor, f"{server}/health", field="status", equals="green")
    run = run_check(monitor["id"])
    assert run.status == "down" and len(run.report.opened) == 1
    assert run.result.cause == 'Field "status" is "ok", expected "green"'


def test_true_is_not_the_number_1(make_monitor, run_check, server):
    monitor = watch(make_monitor, f"{server}/health", field="checks.0.up", equals=1)
    assert run_check(monitor["id"]).result.cause == 'Field "checks.0.up" is true, expected 1'


def test_a_missing_field_is_down(make_monitor, run_check, server):
    monitor = watch(make_monitor, f"{server}/health", field="checks.1.up", equals=True)
    assert run_check(monitor["id"]).result.cause == 'Field "checks.1.up" not found'


def test_an_error_status_is_down_unless_ignore_status_is_set(make_monitor, run_check, server):
    strict = watch(make_monitor, f"{server}/degraded", field="status", equals="ok")
    assert run_check(strict["id"]).result.cause == "HTTP 503"
    lenient = watch(make_monitor, f"{server}/degraded", field="status", equals="ok", ignoreStatus=True)
    assert run_check(lenient["id"]).result.cause == 'Field "status" is "degraded", expected "ok"'


def test_a_body_that_is_not_json_is_down(make_monitor, run_check, server):
    monitor = watch(make_monitor, f"{server}/text", field="status", equals="ok")
    assert run_check(monitor["id"]).result.cause == "Response is not JSON"


def test_a_closed_port_is_down_with_cause_connection_refused(make_monitor, run_check, closed_port):
    monitor = watch(make_monitor, f"http://127.0.0.1:{closed_port}/health", field="status", equals="ok")
    assert run_check(monitor["id"]).result.cause == "Connection refused"


def test_a_name_that_resolves_to_a_cloud_metadata_address_is_never_contacted(make_monitor, run_check, resolve_as):
    resolve_as({"metadata.test": ["169.254.169.254"]})
    monitor = watch(make_monitor, "http://metadata.test/latest/meta-data/", field="status", equals="ok")
    cause = run_check(monitor["id"]).result.cause
    assert cause == "Target refused by policy: 169.254.169.254 is link-local (cloud metadata)"


def test_a_url_that_is_not_http_is_refused(client, auth_headers):
    settings = {"field": "status", "equals": "ok"}
    monitor = {"name": "API", "type": "json-field", "url": "ftp://example.com/", "settings": settings}
    response = client.post("/api/v1/monitors", json=monitor, headers=auth_headers)
    assert response.status_code == 400
    assert response.json["issues"] == [{"path": ["url"], "message": "Must be an http:// or https:// URL."}]


def test_recovery_resolves_the_incident(make_monitor, run_check, client, auth_headers, server):
    monitor = watch(make_monitor, f"{server}/degraded", field="status", equals="ok")
    (opened,) = run_check(monitor["id"]).report.opened
    client.patch(f"/api/v1/monitors/{monitor['id']}", json={"url": f"{server}/health"}, headers=auth_headers)
    run = run_check(monitor["id"])
    assert run.status == "up" and run.report.resolved == [opened]
